//! Refusing a request so that the refusal arrives — every refusal, by one mechanism.
//!
//! A server that answers before reading a request's body and then closes the connection
//! makes the kernel reset it while the client is still sending: the client sees "connection
//! reset", `EPIPE` or "fetch failed" instead of the 413, 401 or 404 (Node's fetch did in most
//! of 50 tries). That happens wherever an answer can come before the body is in: Murmur's own
//! refusals (a body over the limit, a wrong key, a foreign Origin) and an engine's early
//! answer that Murmur relays (a path the engine does not serve). So [`deliver`], one layer
//! around everything Murmur serves, watches each request body: when the answer is an error
//! and the body has not been read to its end, what is left of it is read and dropped first —
//! up to [`DRAIN_BYTES`], for at most [`DRAIN_TIME`], and only while it keeps coming (a client
//! that stalls is answered after [`DRAIN_IDLE`], as nginx's `lingering_timeout`) — and the
//! answer closes the connection. Handlers refuse by returning their error; none drains.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderValue, header};
use http_body::{Body as _, Frame};

/// The most of a refused body read and dropped before answering.
pub const DRAIN_BYTES: u64 = 256 * 1024 * 1024;
/// The longest a refused body is read for before answering.
pub const DRAIN_TIME: Duration = Duration::from_secs(10);
/// A refused body that pauses this long is no longer waited for.
pub const DRAIN_IDLE: Duration = Duration::from_millis(500);

/// The layer: see the module's documentation.
pub async fn deliver(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    if body.is_end_stream() {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let unread = Arc::new(Mutex::new(Some(body)));
    let watched = Body::new(Watched(unread.clone()));
    let mut response = next.run(Request::from_parts(parts, watched)).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    // Whoever read the body (a handler, the client sending it to the engine) is done with it:
    // what is left is taken from under it.
    let rest = unread.lock().ok().and_then(|mut unread| unread.take());
    if let Some(rest) = rest {
        drain(rest).await;
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// A request body whose unread rest the layer can take back: `None` once read to its end.
struct Watched(Arc<Mutex<Option<Body>>>);

impl http_body::Body for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let Ok(mut slot) = self.0.lock() else {
            return Poll::Ready(None);
        };
        let Some(body) = slot.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(body).poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            *slot = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.0
            .lock()
            .map_or(true, |slot| slot.as_ref().is_none_or(Body::is_end_stream))
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.0
            .lock()
            .ok()
            .and_then(|slot| slot.as_ref().map(Body::size_hint))
            .unwrap_or_else(|| http_body::SizeHint::with_exact(0))
    }
}

/// Read and drop what is left of a body Murmur refuses.
async fn drain(body: Body) {
    let mut stream = body.into_data_stream();
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
