//! Connections to the engine for forwarded requests, each driven by the request that uses it.
//!
//! hyper's pooled client runs every connection as a task of its own: a request hands its
//! message to that task over a channel and waits for the answer over another, and the answer's
//! body crosses tasks again — task wake-ups for every request, often on another thread, and a
//! pool keyed by hashing the engine's address. Here a request takes an idle connection to the
//! engine (or opens one), and its own task drives it: writing the request, reading the answer
//! and its body. The connection goes back to the pool once the body has been read to its end;
//! a request dropped before that drops its connection, so the engine sees the client leave.
//!
//! Plain HTTP only: an external engine at an `https://` URL goes through the shared client
//! ([`crate::http_client`]), whose bodies pass through [`EngineBody`] untouched.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker, ready};
use std::time::{Duration, Instant};

use axum::body::Body;
use bytes::Bytes;
use http::uri::Authority;
use http::{Request, Response};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use engine::Engine;

/// Idle connections kept at most (a local engine has few clients: Murmur).
const MAX_IDLE: usize = 64;
/// An idle connection older than this is closed, not reused (engines close theirs too).
const IDLE_FOR: Duration = Duration::from_secs(30);
/// How long opening a connection may take (as the shared client's).
const CONNECT_WITHIN: Duration = Duration::from_secs(5);

/// The idle connections to the engines. Cheap to clone.
#[derive(Clone, Default)]
pub struct Pool(Arc<Kept>);

#[derive(Default)]
struct Kept {
    idle: Mutex<Vec<Idle>>,
    /// A connection was kept: a request waiting for one may take it.
    returned: tokio::sync::Notify,
}

struct Idle {
    authority: Authority,
    since: Instant,
    engine: Box<Engine>,
}

/// Why a request got no answer from the engine.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("cannot connect to {authority}")]
    Connect {
        authority: Authority,
        #[source]
        source: std::io::Error,
    },
    #[error("the engine's connection failed")]
    Http(#[source] hyper::Error),
    #[error("the engine closed the connection without an answer")]
    Closed,
    /// From the shared client (TLS).
    #[error(transparent)]
    Shared(hyper_util::client::legacy::Error),
}

impl SendError {
    /// No connection could be made: the engine is not there.
    pub fn is_connect(&self) -> bool {
        match self {
            Self::Connect { .. } => true,
            Self::Shared(e) => e.is_connect(),
            Self::Http(_) | Self::Closed => false,
        }
    }
}

/// What became of a request on one connection.
enum Outcome {
    Answered(Response<Incoming>, Box<Engine>),
    /// The connection could not take it (a reused one the engine had closed): here it is back.
    NotSent(Request<Body>, SendError),
    Failed(SendError),
}

impl Pool {
    /// Send `request` (its URI in origin form, `/path?query`) to the engine at `authority`,
    /// and return its answer, whose body drives the connection until it ends.
    pub async fn send(
        &self,
        authority: &Authority,
        request: Request<Body>,
    ) -> Result<Response<EngineBody>, SendError> {
        let mut request = request;
        loop {
            let (engine, kept) = match self.take(authority) {
                Some(engine) => (engine, true),
                None => self.connect_or_wait(authority).await?,
            };
            match exchange(engine, request).await {
                Outcome::Answered(response, engine) => {
                    return Ok(self.relayed(response, engine, authority));
                }
                // A kept connection the engine has closed since takes no request: it is sent
                // again, on another.
                Outcome::NotSent(back, _) if kept => request = back,
                Outcome::NotSent(_, e) | Outcome::Failed(e) => return Err(e),
            }
        }
    }

    /// A new connection, or a kept one if one comes back first (whether it was kept). An
    /// engine that takes connections slowly (a burst larger than its accept queue) then
    /// serves the burst on the connections it has, as hyper's pooled client does, rather
    /// than leaving a request on a connection it has not accepted.
    async fn connect_or_wait(
        &self,
        authority: &Authority,
    ) -> Result<(Box<Engine>, bool), SendError> {
        let mut connecting = std::pin::pin!(connect(authority));
        loop {
            tokio::select! {
                biased;
                engine = &mut connecting => return Ok((engine?, false)),
                () = self.0.returned.notified() => {
                    if let Some(engine) = self.take(authority) {
                        return Ok((engine, true));
                    }
                }
            }
        }
    }

    /// The idle connection to `authority` kept last, if any; stale ones are closed.
    fn take(&self, authority: &Authority) -> Option<Box<Engine>> {
        let mut idle = self
            .0
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        idle.retain(|kept| {
            kept.since.elapsed() < IDLE_FOR && !kept.engine.ended && !kept.engine.send.is_closed()
        });
        let last = idle.iter().rposition(|kept| kept.authority == *authority)?;
        Some(idle.remove(last).engine)
    }

    /// Keep `engine` for the next request, if it can take one.
    fn put(&self, authority: Authority, engine: Box<Engine>) {
        if engine.ended || engine.send.is_closed() {
            return;
        }
        let mut idle = self
            .0
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(Idle {
                authority,
                since: Instant::now(),
                engine,
            });
            drop(idle);
            self.0.returned.notify_one();
        }
    }

    fn relayed(
        &self,
        response: Response<Incoming>,
        engine: Box<Engine>,
        authority: &Authority,
    ) -> Response<EngineBody> {
        let (parts, body) = response.into_parts();
        let mut body = EngineBody {
            body,
            engine: Some(engine),
            back: Some((self.clone(), authority.clone())),
        };
        // An answer without a body (204, HEAD) may never be polled: its connection is done now.
        if http_body::Body::is_end_stream(&body.body) {
            body.release();
        }
        Response::from_parts(parts, body)
    }
}

/// Open a connection to the engine.
async fn connect(authority: &Authority) -> Result<Box<Engine>, SendError> {
    let address = (
        authority.host().trim_matches(['[', ']']),
        authority.port_u16().unwrap_or(80),
    );
    let refused = |source| SendError::Connect {
        authority: authority.clone(),
        source,
    };
    let stream = tokio::time::timeout(CONNECT_WITHIN, TcpStream::connect(address))
        .await
        .map_err(|_| refused(std::io::ErrorKind::TimedOut.into()))?
        .map_err(refused)?;
    let _ = stream.set_nodelay(true);
    let (send, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(SendError::Http)?;
    Ok(Box::new(Engine::new(send, connection)))
}

/// Send `request` on `engine`'s connection, driving it until the answer's head has come.
async fn exchange(mut engine: Box<Engine>, request: Request<Body>) -> Outcome {
    // A reused connection is ready once it has read the previous answer to its end.
    let ready = poll_fn(|cx| {
        engine.poll_with(cx, |send, cx, ended| match send.poll_ready(cx) {
            Poll::Pending if ended => Poll::Ready(Err(SendError::Closed)),
            Poll::Pending => Poll::Pending,
            Poll::Ready(ready) => Poll::Ready(ready.map_err(SendError::Http)),
        })
    })
    .await;
    if let Err(e) = ready {
        return Outcome::NotSent(request, e);
    }
    let mut answer = std::pin::pin!(engine.hand(request));
    // The connection is polled first: it writes the request and reads the answer.
    let answered = poll_fn(|cx| {
        engine.poll_with(cx, |_, cx, ended| match answer.as_mut().poll(cx) {
            Poll::Pending if ended => Poll::Ready(Err(None)),
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(response)) => Poll::Ready(Ok(response)),
            Poll::Ready(Err(mut e)) => Poll::Ready(Err(Some((e.take_message(), e.into_error())))),
        })
    })
    .await;
    match answered {
        Ok(response) => Outcome::Answered(response, engine),
        Err(Some((Some(request), error))) => Outcome::NotSent(request, SendError::Http(error)),
        Err(Some((None, error))) => Outcome::Failed(SendError::Http(error)),
        Err(None) => Outcome::Failed(SendError::Closed),
    }
}

/// An engine's answer body: read from a connection this body drives ([`Pool`]), or from the
/// shared client's.
pub struct EngineBody {
    body: Incoming,
    /// The connection, until the body has ended.
    engine: Option<Box<Engine>>,
    /// Where the connection goes then.
    back: Option<(Pool, Authority)>,
}

impl EngineBody {
    /// A body from the shared client, whose connection runs on its own.
    pub fn shared(body: Incoming) -> Self {
        Self {
            body,
            engine: None,
            back: None,
        }
    }

    /// The body has ended: let the connection finish the answer, and keep it. Nothing waits
    /// on it meanwhile: whoever takes it next drives it.
    fn release(&mut self) {
        if let (Some(mut engine), Some((pool, authority))) = (self.engine.take(), self.back.take())
        {
            let mut idle = Context::from_waker(Waker::noop());
            let _ = engine.poll_with(&mut idle, |_, _, _| Poll::Pending::<()>);
            pool.put(authority, engine);
        }
    }
}

impl http_body::Body for EngineBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        let body = &mut this.body;
        let frame = match &mut this.engine {
            Some(engine) => {
                ready!(engine.poll_with(cx, |_, cx, _| Pin::new(&mut *body).poll_frame(cx)))
            }
            None => ready!(Pin::new(body).poll_frame(cx)),
        };
        if frame.is_none() || this.body.is_end_stream() {
            this.release();
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

mod engine;
#[cfg(test)]
mod tests;
