//! Refusing a request so that the refusal arrives — every refusal, by one mechanism.
//!
//! A server that answers before reading a request's body and then closes the connection
//! makes the kernel reset it while the client is still sending: the client sees "connection
//! reset", `EPIPE` or "fetch failed" instead of the 413, 401 or 404 (Node's fetch did in most
//! of 50 tries). That happens wherever an answer can come before the body is in: Murmur's own
//! refusals (a body over the limit, a wrong key, a foreign Origin) and an engine's early
//! answer that Murmur relays (a path the engine does not serve). So the front door watches
//! every request body ([`watch`], then [`Watch::deliver`] with the answer): when the answer
//! is an error and the body has not been read to its end, what is left of it is read and
//! dropped first —
//! up to [`DRAIN_BYTES`], for at most [`DRAIN_TIME`], and only while it keeps coming (a client
//! that stalls is answered after [`DRAIN_IDLE`], as nginx's `lingering_timeout`) — and the
//! answer closes the connection. Handlers refuse by returning their error; none drains.
//! A client that sent `Expect: 100-continue` and has not been asked for its body yet is
//! answered at once instead: it has sent nothing, and will send nothing once it has the answer.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
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

/// Watch `request`'s body (see the module's documentation): the request to serve, and, when
/// it has a body, what [`Watch::deliver`] needs to see that a refusal arrives.
pub fn watch(request: Request) -> (Request, Option<Watch>) {
    if request.body().is_end_stream() {
        return (request, None);
    }
    let (parts, body) = request.into_parts();
    let waits_to_send = parts
        .headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let unread = Arc::new(Mutex::new(Unread {
        body: Some(body),
        asked: false,
    }));
    let watched = Body::new(Watched(unread.clone()));
    let watch = Watch {
        unread,
        waits_to_send,
    };
    (Request::from_parts(parts, watched), Some(watch))
}

/// A request body being watched, until its answer is known.
pub struct Watch {
    unread: Arc<Mutex<Unread>>,
    /// The client sent `Expect: 100-continue`.
    waits_to_send: bool,
}

impl Watch {
    /// `response`, once it can arrive: a refusal waits until what is left of the body has been
    /// read and dropped, and closes the connection.
    pub async fn deliver(self, mut response: Response) -> Response {
        let status = response.status();
        if !(status.is_client_error() || status.is_server_error()) {
            return response;
        }
        // Whoever read the body (a handler, the client sending it to the engine) is done with
        // it: what is left is taken from under it.
        let rest = self
            .unread
            .lock()
            .ok()
            .and_then(|mut unread| unread.body.take().map(|body| (body, unread.asked)));
        let Some((rest, asked)) = rest else {
            return response;
        };
        // A client still waiting for `100 Continue` has sent nothing: answered at once, it
        // sends nothing (and the connection closes after).
        if asked || !self.waits_to_send {
            drain(rest).await;
        }
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        response
    }
}

/// What is left of a request body: `None` once read to its end (or taken back); `asked` once
/// anyone has polled it (for a client waiting on `100-continue`, that is what asks it to send).
struct Unread {
    body: Option<Body>,
    asked: bool,
}

/// A request body whose unread rest the layer can take back.
struct Watched(Arc<Mutex<Unread>>);

impl http_body::Body for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let Ok(mut unread) = self.0.lock() else {
            return Poll::Ready(None);
        };
        unread.asked = true;
        let Some(body) = unread.body.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(body).poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            unread.body = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.0.lock().map_or(true, |unread| {
            unread.body.as_ref().is_none_or(Body::is_end_stream)
        })
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.0
            .lock()
            .ok()
            .and_then(|unread| unread.body.as_ref().map(Body::size_hint))
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
