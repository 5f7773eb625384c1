//! One HTTP/1.1 connection to an engine, spoken by Murmur (see the parent module): the
//! request written as one head and its body after it, the answer's head parsed with
//! `httparse`, its body read as the client takes it — by the task of the request that uses
//! the connection, with no channel or task between the socket and the request.
//!
//! What a proxy to a local engine needs and no more: no upgrades, no pipelining, no keep-alive
//! for HTTP/1.0. An answer it cannot read (a head over 64 KiB, a length that is not a number,
//! a chunk that does not end where its size says) fails its request, and the connection goes.

use std::io::{self, Write as _};
use std::task::{Context, Poll, Waker, ready};

use axum::body::Body;
use bytes::{Buf, Bytes, BytesMut};
use http::Method;
use http::header;
use http_body::Body as _;
use http_body_util::BodyExt;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

pub(super) use answer::{Answer, Framing};
use answer::{answer, names};
use chunked::{Dechunked, dechunk};

/// How much room a read is given at first, and at most: reads that fill it double it, so a
/// long body is read in large pieces and a short answer takes no more than it needs.
const FIRST_READ: usize = 16 * 1024;
const MOST_READ: usize = 64 * 1024;

/// One connection to an engine.
pub(super) struct Wire {
    stream: TcpStream,
    /// Read and not yet used.
    read: BytesMut,
    /// How much the next read may take.
    room: usize,
}

/// Why an exchange, or the answer's body, failed.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("the engine closed the connection without an answer")]
    Closed,
    #[error("the connection closed before the answer's end")]
    BrokeOff,
    #[error("the engine's answer is not HTTP/1.1: {0}")]
    Malformed(&'static str),
    #[error("the client's body broke off")]
    Upload(#[source] axum::Error),
    #[error("the request's body is not the length it declared")]
    Length,
}

/// A request ready to go: its head written out, its body (if it has one) to follow.
pub(super) struct Outgoing {
    head: Vec<u8>,
    body: Option<Body>,
    sending: Sending,
    /// A HEAD request: its answer has no body, whatever its head says.
    head_only: bool,
    /// The request asks the engine to close the connection after answering.
    pub(super) closes: bool,
}

/// How the request's body is framed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sending {
    Nothing,
    Length(u64),
    Chunked,
}

impl Outgoing {
    /// `parts`' method, target (origin form) and headers, framed by what `body` says of its
    /// size: a body's own `Content-Length` or `Transfer-Encoding` is never trusted.
    pub(super) fn new(parts: &http::request::Parts, body: Body) -> Self {
        let sending = if body.is_end_stream() {
            if matches!(parts.method, Method::POST | Method::PUT | Method::PATCH) {
                Sending::Length(0)
            } else {
                Sending::Nothing
            }
        } else {
            body.size_hint()
                .exact()
                .map_or(Sending::Chunked, Sending::Length)
        };
        let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let mut head = Vec::with_capacity(256);
        head.extend_from_slice(parts.method.as_str().as_bytes());
        head.push(b' ');
        head.extend_from_slice(target.as_bytes());
        head.extend_from_slice(b" HTTP/1.1\r\n");
        for (name, value) in &parts.headers {
            if name == header::CONTENT_LENGTH || name == header::TRANSFER_ENCODING {
                continue;
            }
            head.extend_from_slice(name.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        match sending {
            Sending::Nothing => {}
            Sending::Length(length) => {
                let _ = write!(head, "content-length: {length}\r\n");
            }
            Sending::Chunked => head.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        }
        head.extend_from_slice(b"\r\n");
        let closes = parts
            .headers
            .get_all(header::CONNECTION)
            .iter()
            .any(|value| names(value, "close"));
        Self {
            head,
            body: (sending != Sending::Nothing && sending != Sending::Length(0)).then_some(body),
            sending,
            head_only: parts.method == Method::HEAD,
            closes,
        }
    }

    /// The request may be sent again on another connection: it has no body, and its method
    /// none (GET, HEAD, DELETE, OPTIONS: safe or idempotent). A POST, even an empty one, is not.
    pub(super) fn replayable(&self) -> bool {
        self.sending == Sending::Nothing
    }
}

impl Wire {
    pub(super) fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            read: BytesMut::new(),
            room: FIRST_READ,
        }
    }

    /// The kept connection can take a request: the engine has not closed it or sent anything
    /// since. No system call unless the socket has stirred since the last read.
    pub(super) fn is_usable(&mut self) -> bool {
        match self
            .stream
            .poll_read_ready(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Pending => true,
            Poll::Ready(Err(_)) => false,
            Poll::Ready(Ok(())) => matches!(
                self.stream.try_read(&mut [0u8; 1]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock
            ),
        }
    }

    /// Send `request` and read its answer's head. Its body is sent while the answer is
    /// watched for: an engine that answers before reading all of it (a refusal) is heard, and
    /// the connection is then not reused.
    pub(super) async fn exchange(&mut self, request: &mut Outgoing) -> Result<Answer, WireError> {
        let Self { stream, read, room } = self;
        let Some(body) = request.body.take() else {
            stream.write_all(&request.head).await?;
            return answer(stream, read, room, request.head_only).await;
        };
        let (mut reader, mut writer) = stream.split();
        let sent = async {
            writer.write_all(&request.head).await?;
            send_body(&mut writer, body, request.sending).await
        };
        let early = tokio::select! {
            biased;
            early = answer(&mut reader, read, room, request.head_only) => early,
            sent = sent => match sent {
                Ok(()) => return answer(&mut reader, read, room, request.head_only).await,
                // The engine stopped reading: it may have answered before it did.
                Err(WireError::Io(e)) => answer(&mut reader, read, room, request.head_only)
                    .await
                    .map_err(|_| WireError::Io(e)),
                Err(e) => return Err(e),
            },
        };
        early.map(|answer| Answer {
            reusable: false,
            ..answer
        })
    }

    /// The next piece of an answer's body framed by `framing`, which it moves on; `None` once
    /// the body has ended.
    pub(super) fn poll_body(
        &mut self,
        framing: &mut Framing,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, WireError>>> {
        loop {
            match framing {
                Framing::Done => return Poll::Ready(None),
                Framing::Length(left) if !self.read.is_empty() => {
                    let take = usize::try_from(*left)
                        .map_or(self.read.len(), |left| left.min(self.read.len()));
                    *left -= take as u64;
                    if *left == 0 {
                        *framing = Framing::Done;
                    }
                    return Poll::Ready(Some(Ok(self.read.split_to(take).freeze())));
                }
                Framing::UntilClose if !self.read.is_empty() => {
                    return Poll::Ready(Some(Ok(self.read.split().freeze())));
                }
                Framing::Chunked(chunk) => match dechunk(&mut self.read, chunk) {
                    Err(e) => return Poll::Ready(Some(Err(e))),
                    Ok(Dechunked::Data(data)) => return Poll::Ready(Some(Ok(data))),
                    Ok(Dechunked::End) => {
                        *framing = Framing::Done;
                        continue;
                    }
                    Ok(Dechunked::Moved) => continue,
                    Ok(Dechunked::More) => {}
                },
                Framing::Length(_) | Framing::UntilClose => {}
            }
            let read = match ready!(fill(&mut self.stream, &mut self.read, &mut self.room, cx)) {
                Ok(read) => read,
                Err(e) => return Poll::Ready(Some(Err(e.into()))),
            };
            if read == 0 {
                if *framing == Framing::UntilClose {
                    *framing = Framing::Done;
                    return Poll::Ready(None);
                }
                return Poll::Ready(Some(Err(WireError::BrokeOff)));
            }
        }
    }

    /// Nothing is left over from the last answer.
    pub(super) fn is_clean(&self) -> bool {
        self.read.is_empty()
    }
}

/// Read more into `read`: how many bytes (0: the engine closed the connection). A read that
/// leaves the socket empty tells tokio so, which [`Wire::is_usable`] relies on.
fn fill<R: AsyncRead + Unpin>(
    stream: &mut R,
    read: &mut BytesMut,
    room: &mut usize,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    if read.capacity() - read.len() < *room / 2 {
        read.reserve(*room);
    }
    let offered = read.capacity() - read.len();
    let got = ready!(tokio_util::io::poll_read_buf(
        std::pin::Pin::new(stream),
        cx,
        read
    ))?;
    if got == offered {
        *room = (*room * 2).min(MOST_READ);
    }
    Poll::Ready(Ok(got))
}

/// Write `body` as `sending` frames it.
async fn send_body<W: AsyncWrite + Unpin>(
    writer: &mut W,
    mut body: Body,
    sending: Sending,
) -> Result<(), WireError> {
    let mut left = match sending {
        Sending::Length(length) => Some(length),
        Sending::Nothing | Sending::Chunked => None,
    };
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(WireError::Upload)?.into_data() else {
            continue; // trailers are not passed on
        };
        if data.is_empty() {
            continue;
        }
        match &mut left {
            Some(left) => {
                *left = left
                    .checked_sub(data.len() as u64)
                    .ok_or(WireError::Length)?;
                writer.write_all(&data).await?;
            }
            None => {
                let size = format!("{:x}\r\n", data.len());
                let mut chunk = size.as_bytes().chain(data).chain(&b"\r\n"[..]);
                writer.write_all_buf(&mut chunk).await?;
            }
        }
    }
    match left {
        Some(0) => Ok(()),
        Some(_) => Err(WireError::Length),
        None => Ok(writer.write_all(b"0\r\n\r\n").await?),
    }
}

mod answer;
mod chunked;
#[cfg(test)]
mod tests;
