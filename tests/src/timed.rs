//! A speech request whose body is read as it streams, with the time of its first byte.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Method;
use http_body_util::BodyExt;

use crate::Client;
use crate::client::request;

/// A streamed reply: status, headers, the whole body, and when its first byte came.
pub struct Timed {
    pub status: u16,
    pub content_type: String,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
    pub first_byte: Duration,
    pub total: Duration,
    /// How many pieces the body arrived in.
    pub pieces: usize,
}

/// POST `body` (JSON) to `url` and read the answer piece by piece.
pub async fn post(url: &str, body: &str, headers: &[(&str, &str)]) -> Timed {
    let mut req = request(Method::POST, url, Bytes::from(body.to_owned()));
    req.headers_mut().insert(
        http::header::CONTENT_TYPE,
        "application/json".parse().expect("header"),
    );
    for (name, value) in headers {
        req.headers_mut().insert(
            http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
            value.parse().expect("value"),
        );
    }
    let started = Instant::now();
    let response = Client::new().send(req).await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut body = response.into_body();
    let (mut bytes, mut first_byte, mut pieces) = (Vec::new(), None, 0);
    while let Some(frame) = tokio::time::timeout(Duration::from_secs(120), body.frame())
        .await
        .expect("the body keeps coming")
    {
        if let Ok(data) = frame.expect("a complete stream").into_data()
            && !data.is_empty()
        {
            first_byte.get_or_insert_with(|| started.elapsed());
            bytes.extend_from_slice(&data);
            pieces += 1;
        }
    }
    Timed {
        status,
        content_type,
        headers,
        body: bytes,
        first_byte: first_byte.unwrap_or_default(),
        total: started.elapsed(),
        pieces,
    }
}

/// Start a request, read its first piece of body, then go away; returns the status.
pub async fn leave_after_first_piece(url: &str, body: &str) -> u16 {
    let mut req = request(Method::POST, url, Bytes::from(body.to_owned()));
    req.headers_mut().insert(
        http::header::CONTENT_TYPE,
        "application/json".parse().expect("header"),
    );
    let response = Client::new().send(req).await;
    let status = response.status().as_u16();
    let mut body = response.into_body();
    let _ = body.frame().await;
    status
}
