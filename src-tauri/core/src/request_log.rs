//! One log line per request, written when its response has been sent (or abandoned), so it
//! can say how many bytes went out and when the first of them did.
//!
//! Everything a client does is logged at info, refused requests included; Murmur's own page
//! and control API are logged at debug unless they fail, since the page polls.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use bytes::Bytes;
use http_body::{Frame, SizeHint};

use crate::audio::Format;
use crate::metrics::{InProgress, Metrics, Recent, TranscribedAudio};

/// A request being answered, from the moment it arrived: [`Begun::finish`] takes its answer,
/// counts it and logs it once it has been sent. What the request holds (`until_sent`) is let
/// go with the log's record.
pub fn begin(metrics: &Arc<Metrics>, request: &Request, until_sent: Option<UntilSent>) -> Begun {
    let started = Instant::now();
    let path = request.uri().path().to_owned();
    let agent = request
        .headers()
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map_or("-", |agent| at_most_chars(agent, 120))
        .to_owned();
    Begun {
        started,
        at_ms: crate::time::unix_millis(),
        method: request.method().clone(),
        in_progress: (!path.starts_with("/murmur/")).then(|| metrics.begin()),
        metrics: metrics.clone(),
        path,
        agent,
        until_sent,
    }
}

/// A request being answered: see [`begin`].
pub struct Begun {
    metrics: Arc<Metrics>,
    started: Instant,
    at_ms: u64,
    method: http::Method,
    path: String,
    agent: String,
    in_progress: Option<InProgress>,
    until_sent: Option<UntilSent>,
}

impl Begun {
    /// The answer, counted in the metrics now and logged once its body has been sent (or
    /// abandoned). Refusals are delivered before this (by the caller), so the log sees what
    /// the client got.
    pub fn finish(self, response: Response) -> Response {
        let status = response.status().as_u16();
        let metrics = self.metrics;
        metrics.record(
            &self.path,
            status,
            self.started.elapsed().as_secs_f64() * 1000.0,
        );
        let format = response.extensions().get::<Format>().copied();
        let transcribed = response.extensions().get::<TranscribedAudio>().copied();
        let (parts, body) = response.into_parts();
        let entry = Record {
            metrics,
            at_ms: self.at_ms,
            method: self.method,
            path: self.path,
            status,
            format,
            transcribed,
            agent: self.agent,
            started: self.started,
            first_byte_ms: None,
            bytes: 0,
            complete: false,
            _in_progress: self.in_progress,
            _until_sent: self.until_sent,
        };
        Response::from_parts(parts, Body::new(Logged { body, entry }))
    }
}

/// `text`'s first `n` characters (all of it when shorter).
fn at_most_chars(text: &str, n: usize) -> &str {
    if text.len() <= n {
        return text;
    }
    text.char_indices()
        .nth(n)
        .map_or(text, |(end, _)| &text[..end])
}

/// What is busy while a request is answered (its connection), told when the answer has been
/// sent or abandoned.
pub trait Busy: Send + Sync {
    fn done(&self);
}

/// A request's hold on what is busy answering it ([`Busy`]), let go with the log's record.
pub struct UntilSent(Arc<dyn Busy>);

impl UntilSent {
    pub fn new(busy: Arc<dyn Busy>) -> Self {
        Self(busy)
    }
}

impl Drop for UntilSent {
    fn drop(&mut self) {
        self.0.done();
    }
}

struct Record {
    metrics: Arc<Metrics>,
    /// Counted as in progress until the response has been sent (or abandoned).
    _in_progress: Option<InProgress>,
    /// What the request held until then.
    _until_sent: Option<UntilSent>,
    at_ms: u64,
    method: http::Method,
    path: String,
    status: u16,
    format: Option<Format>,
    transcribed: Option<TranscribedAudio>,
    agent: String,
    started: Instant,
    first_byte_ms: Option<f64>,
    bytes: u64,
    complete: bool,
}

impl Drop for Record {
    fn drop(&mut self) {
        let total_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        let format = self.format.map_or("-", Format::as_str);
        let first_byte_ms = self.first_byte_ms.map(|ms| (ms * 10.0).round() / 10.0);
        let outcome = if self.complete { "sent" } else { "aborted" };
        let (method, path, status, bytes, agent) = (
            &self.method,
            &self.path,
            self.status,
            self.bytes,
            &self.agent,
        );
        let total_ms = (total_ms * 10.0).round() / 10.0;
        if status >= 500 {
            tracing::warn!(%method, path, status, format, bytes, first_byte_ms, total_ms, agent, outcome, "request");
        } else if status < 400 && !spoken_or_heard(path) {
            tracing::debug!(%method, path, status, format, bytes, first_byte_ms, total_ms, agent, outcome, "request");
        } else {
            tracing::info!(%method, path, status, format, bytes, first_byte_ms, total_ms, agent, outcome, "request");
        }
        // Last: the activity view takes the strings rather than copies.
        self.metrics.finished(Recent {
            at_ms: self.at_ms,
            method: self.method.as_str().to_owned(),
            path: std::mem::take(&mut self.path),
            status,
            format: self.format.map(Format::as_str),
            agent: std::mem::take(&mut self.agent),
            first_byte_ms,
            total_ms,
            bytes,
            complete: self.complete,
            transcribed: self.transcribed,
        });
    }
}

/// A request for speech or transcription, logged at `info` when it succeeds. Everything else
/// that succeeds — Murmur's own API, the lists clients poll (Open WebUI asks for
/// `/v1/models` on every page), other forwarded paths — is at `debug`: one line per poll
/// buried what was said, and writing it cost more than the forwarding (two writes and a
/// wake-up of the log file's thread per request). Activity lists every request either way.
fn spoken_or_heard(path: &str) -> bool {
    path.starts_with("/v1/audio/") || path.starts_with("/v1/realtime")
}

/// The response body, counted on its way out.
struct Logged {
    body: Body,
    entry: Record,
}

impl http_body::Body for Logged {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let frame = ready!(Pin::new(&mut this.body).poll_frame(cx));
        match &frame {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref()
                    && !data.is_empty()
                {
                    this.entry.bytes += data.len() as u64;
                    this.entry
                        .first_byte_ms
                        .get_or_insert_with(|| this.entry.started.elapsed().as_secs_f64() * 1000.0);
                }
                // hyper stops asking once a body says it has ended.
                if this.body.is_end_stream() {
                    this.entry.complete = true;
                }
            }
            Some(Err(_)) => {}
            None => this.entry.complete = true,
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
