//! The proxy's connections to the engines it forwards to: plain HTTP/1, kept alive, each driven
//! by the request that is using it.
//!
//! hyper's pooled client gives every connection a task of its own, so each forwarded request
//! crossed between tasks twice (the request to the connection's task, the answer back), and
//! with two worker threads that was often a thread wake-up each way: the largest part of what
//! Murmur added to a request. Here the request's own task polls the connection, while waiting
//! for the answer's head and then with every read of its body ([`Answer`]); no other task
//! takes part. A connection whose answer was read to its end goes back to the idle list; one
//! dropped mid-answer (the client left) is closed, so the engine stops working for nobody.
//! Over TLS (an external `https://` server) the forward path keeps hyper's client.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::uri::{Authority, PathAndQuery, Uri};
use http::{HeaderMap, Method, Request, Response};
use http_body::{Body as _, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::{Connection, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// An idle connection older than this is closed rather than used.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Idle connections kept per engine address.
const MAX_IDLE: usize = 64;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// One connection to an engine: the half that sends requests and the half that does the I/O.
struct Link {
    sender: SendRequest<Body>,
    io: Connection<TokioIo<TcpStream>, Body>,
}

/// Idle connections, by engine address.
#[derive(Default)]
pub struct Connections {
    idle: Mutex<HashMap<Authority, Vec<(Link, Instant)>>>,
}

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("cannot connect to {authority}: {source}")]
    Connect {
        authority: Authority,
        #[source]
        source: std::io::Error,
    },
    #[error("no connection to {0} within {secs} s", secs = CONNECT_TIMEOUT.as_secs())]
    ConnectTimeout(Authority),
    #[error("{0} closed a new connection at once")]
    Closed(Authority),
    #[error(transparent)]
    Http(#[from] hyper::Error),
}

impl LinkError {
    /// Nothing reached the engine: it is not listening (or not in time).
    pub fn is_connect(&self) -> bool {
        !matches!(self, Self::Http(_))
    }
}

impl Connections {
    /// Send `request` (its URI absolute or not; `Host` as the caller set it) to the engine at
    /// `authority`, on an idle connection when there is one. `keep`: the connection may serve
    /// another request afterwards. A request without a body that finds its kept connection
    /// closed by the engine meanwhile is sent again on a new one.
    pub async fn send(
        self: &Arc<Self>,
        authority: &Authority,
        request: Request<Body>,
        keep: bool,
    ) -> Result<Response<Answer>, LinkError> {
        let (mut parts, body) = request.into_parts();
        if let Some(path) = parts.uri.path_and_query().cloned() {
            parts.uri = Uri::from(path);
        } else {
            parts.uri = Uri::from(PathAndQuery::from_static("/"));
        }
        let again = body.is_end_stream().then(|| {
            (
                parts.method.clone(),
                parts.uri.clone(),
                parts.headers.clone(),
            )
        });
        let mut request = Request::from_parts(parts, body);
        loop {
            let (mut link, reused) = match self.take(authority) {
                Some(link) => (link, true),
                None => (connect(authority).await?, false),
            };
            if !link.ready().await {
                if reused {
                    continue;
                }
                return Err(LinkError::Closed(authority.clone()));
            }
            match link.exchange(request).await {
                Ok((response, open)) => {
                    return Ok(response.map(|body| Answer {
                        body,
                        link: open.then_some(link),
                        home: Arc::downgrade(self),
                        authority: authority.clone(),
                        keep,
                        ended: false,
                    }));
                }
                Err(e) if reused && unsent(&e) && again.is_some() => {
                    tracing::debug!(error = %e, "a kept engine connection had closed; sending again");
                    let Some((method, uri, headers)) = &again else {
                        return Err(e.into());
                    };
                    request = rebuilt(method, uri, headers);
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The newest idle connection to `authority` young enough to use.
    fn take(&self, authority: &Authority) -> Option<Link> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let links = idle.get_mut(authority)?;
        while let Some((link, since)) = links.pop() {
            if since.elapsed() < IDLE_TIMEOUT {
                return Some(link);
            }
        }
        None
    }

    /// Keep `link` for the next request to `authority`; connections gone stale (to any
    /// address: an engine restarted on another port leaves its old ones) are closed.
    fn put(&self, authority: &Authority, link: Link) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.retain(|_, links| {
            links.retain(|(_, since)| since.elapsed() < IDLE_TIMEOUT);
            !links.is_empty()
        });
        let links = idle.entry(authority.clone()).or_default();
        if links.len() < MAX_IDLE {
            links.push((link, Instant::now()));
        }
    }
}

/// A failure that left the request unanswered on a connection the engine had closed.
fn unsent(error: &hyper::Error) -> bool {
    error.is_canceled() || error.is_incomplete_message() || error.is_closed()
}

fn rebuilt(method: &Method, uri: &Uri, headers: &HeaderMap) -> Request<Body> {
    let mut request = Request::new(Body::empty());
    *request.method_mut() = method.clone();
    *request.uri_mut() = uri.clone();
    *request.headers_mut() = headers.clone();
    request
}

async fn connect(authority: &Authority) -> Result<Link, LinkError> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(authority.as_str()))
        .await
        .map_err(|_| LinkError::ConnectTimeout(authority.clone()))?
        .map_err(|source| LinkError::Connect {
            authority: authority.clone(),
            source,
        })?;
    let _ = stream.set_nodelay(true);
    let (sender, io) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    Ok(Link { sender, io })
}

impl Link {
    /// Whether the connection can take a request: false when the engine closed it.
    async fn ready(&mut self) -> bool {
        std::future::poll_fn(|cx| {
            if Pin::new(&mut self.io).poll(cx).is_ready() {
                return Poll::Ready(false);
            }
            self.sender.poll_ready(cx).map(|ready| ready.is_ok())
        })
        .await
    }

    /// Send `request` and wait for the answer's head, driving the connection meanwhile. Also
    /// says whether the connection is still open (it may close with the answer).
    async fn exchange(
        &mut self,
        request: Request<Body>,
    ) -> Result<(Response<Incoming>, bool), hyper::Error> {
        let mut answer = std::pin::pin!(self.sender.send_request(request));
        let mut open = true;
        let response = std::future::poll_fn(|cx| {
            if open && Pin::new(&mut self.io).poll(cx).is_ready() {
                open = false;
            }
            answer.as_mut().poll(cx)
        })
        .await?;
        Ok((response, open))
    }
}

/// An engine's answer body, driving its connection as it is read.
pub struct Answer {
    body: Incoming,
    /// None once the connection has ended (or was never Murmur's own).
    link: Option<Link>,
    home: Weak<Connections>,
    authority: Authority,
    keep: bool,
    ended: bool,
}

impl Answer {
    /// An answer over a connection hyper's client drives (TLS).
    pub fn driven_elsewhere(body: Incoming) -> Self {
        Self {
            body,
            link: None,
            home: Weak::new(),
            authority: Authority::from_static("0.0.0.0:0"),
            keep: false,
            ended: false,
        }
    }

    /// Back to the idle list, when the whole answer was read and the connection may be reused.
    fn give_back(&mut self) {
        let Some(link) = self.link.take() else {
            return;
        };
        if self.keep
            && !link.sender.is_closed()
            && let Some(home) = self.home.upgrade()
        {
            home.put(&self.authority, link);
        }
    }
}

impl http_body::Body for Answer {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        // The body first (asking for data), then the connection (reading it), then the body
        // again (taking it): one poll, no wake-up in between.
        let mut frame = Pin::new(&mut this.body).poll_frame(cx);
        if frame.is_pending()
            && let Some(link) = &mut this.link
        {
            if Pin::new(&mut link.io).poll(cx).is_ready() {
                this.link = None;
            }
            frame = Pin::new(&mut this.body).poll_frame(cx);
        }
        if let Poll::Ready(None) = frame {
            this.ended = true;
            this.give_back();
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        if self.ended || self.body.is_end_stream() {
            self.give_back();
        }
    }
}

#[cfg(test)]
mod tests;
