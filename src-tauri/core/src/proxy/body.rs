//! Reading a request body before it may cost the engine anything.
//!
//! A request holds an engine slot only once its whole body is in: a client that trickles its
//! body (or stalls) waits alone, for at most `body_timeout_secs`, and is answered 408. A body
//! larger than the limit is refused with 413 — but only after what is left of it has been read
//! and dropped (up to [`DRAIN_BYTES`], for at most [`DRAIN_TIME`], and only while it keeps
//! coming: a client that stalls is answered after [`DRAIN_IDLE`]): a connection closed while
//! the client is still sending makes the kernel reset it, and the client sees "connection
//! reset" or "fetch failed" instead of the answer. The connection is closed after the 413.

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
    let mut stream = body.into_data_stream();
    if declared.is_some_and(|len| len > limit) {
        drain(&mut stream).await;
        return Err(ApiError::body_too_large(limit, key).closing());
    }
    let collect = async {
        let mut bytes = BytesMut::new();
        while let Some(chunk) = stream.next().await {
            let chunk =
                chunk.map_err(|_| ApiError::bad_json("the request body could not be read"))?;
            if (bytes.len() + chunk.len()) as u64 > limit {
                drain(&mut stream).await;
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

/// The most of a refused body read and dropped before answering.
pub const DRAIN_BYTES: u64 = 256 * 1024 * 1024;
/// The longest a refused body is read for before answering.
pub const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(10);
/// A refused body that pauses this long is no longer waited for (as nginx's
/// `lingering_timeout`).
pub const DRAIN_IDLE: std::time::Duration = std::time::Duration::from_millis(500);

/// Read and drop what is left of a body Murmur refuses (see the module docs).
pub async fn drain(stream: &mut axum::body::BodyDataStream) {
    let read = async {
        let mut seen = 0u64;
        while let Ok(Some(Ok(chunk))) = tokio::time::timeout(DRAIN_IDLE, stream.next()).await {
            seen += chunk.len() as u64;
            if seen > DRAIN_BYTES {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, read).await;
}
