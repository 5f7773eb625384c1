//! Connections to the engine for forwarded requests, each driven by the request that uses it.
//!
//! hyper's pooled client runs every connection as a task of its own: a request hands its
//! message to that task over a channel and waits for the answer over another, and the answer's
//! body crosses tasks again — task wake-ups for every request, often on another thread, and a
//! pool keyed by hashing the engine's address. Even driven by the request's task, hyper's
//! client connection keeps those channels inside: a ninth of a forwarded GET's instructions.
//! Here a request takes an idle connection to the engine (or opens one) and speaks HTTP/1.1 on
//! it itself ([`wire`]): writing the request, reading the answer and its body from the socket.
//! The connection goes back to the pool once the body has been read to its end; a request
//! dropped before that drops its connection, so the engine sees the client leave.
//!
//! Plain HTTP only: an external engine at an `https://` URL goes through the shared client
//! ([`crate::http_client`]), whose bodies pass through [`EngineBody`] untouched.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use axum::body::Body;
use bytes::Bytes;
use http::uri::Authority;
use http::{Request, Response};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use tokio::net::TcpStream;

pub use wire::WireError;
use wire::{Answer, Framing, Outgoing, Wire};

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
    wire: Wire,
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
    Wire(#[source] WireError),
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
            Self::Wire(_) => false,
        }
    }
}

impl Pool {
    /// Send `request` (its URI in origin form, `/path?query`) to the engine at `authority`,
    /// and return its answer, whose body reads the connection until it ends.
    pub async fn send(
        &self,
        authority: &Authority,
        request: Request<Body>,
    ) -> Result<Response<EngineBody>, SendError> {
        let (parts, body) = request.into_parts();
        let mut outgoing = Outgoing::new(&parts, body);
        drop(parts);
        loop {
            let (mut wire, kept) = match self.take(authority) {
                Some(wire) => (wire, true),
                None => self.connect_or_wait(authority).await?,
            };
            match wire.exchange(&mut outgoing).await {
                Ok(answer) => {
                    let reusable = answer.reusable && !outgoing.closes;
                    return Ok(self.relayed(answer, reusable, wire, authority));
                }
                // A kept connection the engine closed as the request went out took nothing:
                // a request without a body is sent again, on another.
                Err(WireError::Closed) if kept && outgoing.replayable() => {}
                Err(e) => return Err(SendError::Wire(e)),
            }
        }
    }

    /// A new connection, or a kept one if one comes back first (whether it was kept). An
    /// engine that takes connections slowly (a burst larger than its accept queue) then
    /// serves the burst on the connections it has, as hyper's pooled client does, rather
    /// than leaving a request on a connection it has not accepted.
    async fn connect_or_wait(&self, authority: &Authority) -> Result<(Wire, bool), SendError> {
        let mut connecting = std::pin::pin!(connect(authority));
        loop {
            tokio::select! {
                biased;
                wire = &mut connecting => return Ok((wire?, false)),
                () = self.0.returned.notified() => {
                    if let Some(wire) = self.take(authority) {
                        return Ok((wire, true));
                    }
                }
            }
        }
    }

    /// The idle connection to `authority` kept last, if any; stale ones are closed.
    fn take(&self, authority: &Authority) -> Option<Wire> {
        let mut idle = self
            .0
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        idle.retain(|kept| now.duration_since(kept.since) < IDLE_FOR);
        while let Some(last) = idle.iter().rposition(|kept| kept.authority == *authority) {
            let mut wire = idle.remove(last).wire;
            if wire.is_usable() {
                return Some(wire);
            }
        }
        None
    }

    /// Keep `wire` for the next request.
    fn put(&self, authority: Authority, wire: Wire) {
        let mut idle = self
            .0
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(Idle {
                authority,
                since: Instant::now(),
                wire,
            });
            drop(idle);
            self.0.returned.notify_one();
        }
    }

    fn relayed(
        &self,
        answer: Answer,
        reusable: bool,
        wire: Wire,
        authority: &Authority,
    ) -> Response<EngineBody> {
        let mut body = EngineBody(Source::Wire {
            wire: Some(wire),
            framing: answer.framing,
            reusable,
            back: (self.clone(), authority.clone()),
        });
        // An answer without a body (204, HEAD) may never be polled: its connection is done now.
        if answer.framing == Framing::Done {
            body.release();
        }
        Response::from_parts(answer.parts, body)
    }
}

/// Open a connection to the engine.
async fn connect(authority: &Authority) -> Result<Wire, SendError> {
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
    Ok(Wire::new(stream))
}

/// An engine's answer body: read from a connection of the [`Pool`] by the request's task,
/// or from the shared client's.
pub struct EngineBody(Source);

enum Source {
    Wire {
        /// The connection, until the body has ended.
        wire: Option<Wire>,
        framing: Framing,
        reusable: bool,
        /// Where the connection goes then.
        back: (Pool, Authority),
    },
    Shared(Incoming),
}

/// Why an engine's answer body broke off.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error(transparent)]
    Wire(WireError),
    #[error(transparent)]
    Shared(hyper::Error),
}

impl EngineBody {
    /// A body from the shared client, whose connection runs on its own.
    pub fn shared(body: Incoming) -> Self {
        Self(Source::Shared(body))
    }

    /// The body has ended: keep its connection, if it can take another request (the pool
    /// keeps only connections with nothing left over to read).
    fn release(&mut self) {
        if let Source::Wire {
            wire,
            reusable: true,
            back: (pool, authority),
            ..
        } = &mut self.0
            && let Some(wire) = wire.take()
            && wire.is_clean()
        {
            pool.put(authority.clone(), wire);
        }
    }
}

impl http_body::Body for EngineBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let (slot, framing) = match &mut self.0 {
            Source::Shared(body) => {
                return Pin::new(body)
                    .poll_frame(cx)
                    .map(|frame| frame.map(|frame| frame.map_err(BodyError::Shared)));
            }
            Source::Wire { wire, framing, .. } => (wire, framing),
        };
        let Some(wire) = slot else {
            return Poll::Ready(None);
        };
        let piece = ready!(wire.poll_body(framing, cx));
        if matches!(piece, Some(Err(_))) {
            // A broken answer leaves its connection unusable: it is closed.
            *slot = None;
        } else if *framing == Framing::Done {
            self.release();
        }
        Poll::Ready(piece.map(|data| data.map(Frame::data).map_err(BodyError::Wire)))
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Source::Shared(body) => body.is_end_stream(),
            Source::Wire { wire, framing, .. } => wire.is_none() || *framing == Framing::Done,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Source::Shared(body) => body.size_hint(),
            Source::Wire {
                framing: Framing::Length(left),
                ..
            } => SizeHint::with_exact(*left),
            Source::Wire {
                framing: Framing::Done,
                ..
            } => SizeHint::with_exact(0),
            Source::Wire { .. } => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests;
mod wire;
