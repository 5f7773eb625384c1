//! A plain HTTP/1 client for tests: whole replies, or the raw streaming response.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as Hyper;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

#[derive(Clone)]
pub struct Client {
    inner: Hyper<HttpConnector, Full<Bytes>>,
}

/// A complete reply.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The `error.code` of an OpenAI-shaped error reply, after checking the shape.
    pub fn error_code(&self) -> String {
        let json = self.json();
        let error = json
            .get("error")
            .unwrap_or_else(|| panic!("no `error` in {json}"));
        for key in ["message", "type", "param", "code"] {
            assert!(
                error.get(key).is_some(),
                "OpenAI error shape lacks `{key}`: {json}"
            );
        }
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{json}"
        );
        error["code"].as_str().unwrap_or_default().to_string()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

impl Client {
    pub fn new() -> Self {
        Self {
            inner: Hyper::builder(TokioExecutor::new()).build(HttpConnector::new()),
        }
    }

    /// Send and return the response with its body still streaming.
    pub async fn send(
        &self,
        request: Request<Full<Bytes>>,
    ) -> hyper::Response<hyper::body::Incoming> {
        tokio::time::timeout(Duration::from_secs(60), self.inner.request(request))
            .await
            .expect("a reply within 60 s")
            .expect("the request was sent")
    }

    /// Send and read the whole reply.
    pub async fn exchange(&self, request: Request<Full<Bytes>>) -> Reply {
        let response = self.send(request).await;
        let (parts, body) = response.into_parts();
        let body = tokio::time::timeout(Duration::from_secs(60), body.collect())
            .await
            .expect("the body within 60 s")
            .expect("a complete body")
            .to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    pub async fn get(&self, url: &str) -> Reply {
        self.exchange(request(Method::GET, url, "")).await
    }

    pub async fn post_json(&self, url: &str, body: &str) -> Reply {
        let mut req = request(Method::POST, url, body.to_owned());
        req.headers_mut().insert(
            http::header::CONTENT_TYPE,
            "application/json".parse().expect("header"),
        );
        self.exchange(req).await
    }
}

/// A request with a body.
pub fn request(method: Method, url: &str, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(url)
        .body(Full::new(body.into()))
        .expect("a valid request")
}
