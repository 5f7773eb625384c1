//! Reading a request body before it may cost the engine anything.
//!
//! A request holds an engine slot only once its whole body is in: a client that trickles its
//! body (or stalls) waits alone, for at most `body_timeout_secs`, and is answered 408. A body
//! larger than the limit is refused with 413 (what is left of it is read and dropped before
//! the answer by [`crate::refusal::Watch::deliver`], so the 413 arrives).

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use http::HeaderMap;
use http::header::CONTENT_LENGTH;

use crate::api_error::ApiError;

/// The whole body, at most `limit` bytes (the setting `key`), within `timeout`.
pub async fn read(
    headers: &HeaderMap,
    body: Body,
    (limit, key): (u64, &str),
    timeout: std::time::Duration,
) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(ApiError::body_too_large(limit, key).closing());
    }
    // Most forwarded requests (GETs) have none: no stream, no timer.
    if http_body::Body::is_end_stream(&body) {
        return Ok(Bytes::new());
    }
    let mut stream = body.into_data_stream();
    let collect = async {
        let mut bytes = BytesMut::new();
        while let Some(chunk) = stream.next().await {
            let chunk =
                chunk.map_err(|_| ApiError::bad_json("the request body could not be read"))?;
            if (bytes.len() + chunk.len()) as u64 > limit {
                return Err(ApiError::body_too_large(limit, key).closing());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes.freeze())
    };
    tokio::time::timeout(timeout, collect)
        .await
        .map_err(|_| ApiError::body_timeout(timeout).closing())?
}
