//! Refusing a request so that the refusal arrives.
//!
//! A server that answers before reading a request's body and then closes the connection
//! makes the kernel reset it while the client is still sending: the client sees "connection
//! reset", `EPIPE` or "fetch failed" instead of the 413, 401 or 403 (Node's fetch did in most
//! of 50 tries). So what is left of a refused body is read and dropped first — up to
//! [`DRAIN_BYTES`], for at most [`DRAIN_TIME`], and only while it keeps coming (a client that
//! stalls is answered after [`DRAIN_IDLE`], as nginx's `lingering_timeout`) — and the answer
//! closes the connection.

use std::time::Duration;

use axum::body::{Body, BodyDataStream};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use crate::api_error::ApiError;

/// The most of a refused body read and dropped before answering.
pub const DRAIN_BYTES: u64 = 256 * 1024 * 1024;
/// The longest a refused body is read for before answering.
pub const DRAIN_TIME: Duration = Duration::from_secs(10);
/// A refused body that pauses this long is no longer waited for.
pub const DRAIN_IDLE: Duration = Duration::from_millis(500);

/// Read and drop what is left of a body Murmur refuses.
pub async fn drain(stream: &mut BodyDataStream) {
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

/// `error` as the answer to a request whose `body` is not wanted.
pub async fn refuse(body: Body, error: ApiError) -> Response {
    drain(&mut body.into_data_stream()).await;
    error.closing().into_response()
}
