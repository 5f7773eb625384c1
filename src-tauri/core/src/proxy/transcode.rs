//! Speech audio on its way to the client: the engine's response body fed through the audio
//! [`Pipeline`] (decode, resample, encode), a slice at a time.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::header;
use http_body::Frame;

use super::forward::{Relay, RelayError};
use crate::api_error::{ApiError, Code};
use crate::audio::{AudioError, EngineAudio, Format, Pipeline};

/// How a speech response is turned into the client's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioPlan {
    pub source: EngineAudio,
    pub format: Format,
    pub sse: bool,
}

/// The header in which an engine that streams PCM states its rate.
const SAMPLE_RATE_HEADER: &str = "x-audio-sample-rate";

/// The engine's audio, encoded on its way to the client. The first chunk goes through the
/// pipeline before the client gets its 200, so audio the engine mislabelled is a 502, not a
/// broken stream.
pub(super) fn transcoded(
    mut parts: http::response::Parts,
    relay: Relay,
    first: Bytes,
    plan: AudioPlan,
) -> Result<Response, ApiError> {
    let stated_rate = parts
        .headers
        .remove(SAMPLE_RATE_HEADER)
        .and_then(|v| v.to_str().ok()?.trim().parse::<u32>().ok())
        .filter(|rate| (1000..=384_000).contains(rate));
    let source = match (plan.source, stated_rate) {
        (EngineAudio::Pcm { .. }, Some(rate)) => EngineAudio::Pcm { rate },
        (source, _) => source,
    };
    let audio_failed = |e: AudioError| {
        tracing::warn!(error = %e, "cannot encode the engine's audio");
        ApiError::bad_gateway(Code::AudioFailed, e.to_string())
    };
    let mut pipeline = match source {
        EngineAudio::Encoded => Pipeline::passthrough(plan.sse),
        source => Pipeline::new(source, plan.format, plan.sse).map_err(audio_failed)?,
    };
    let mut first = first;
    let ready = pipeline
        .push(&first.split_to(SLICE.min(first.len())))
        .map_err(audio_failed)?;
    parts.headers.remove(header::CONTENT_LENGTH);
    let content_type = if plan.sse {
        Some("text/event-stream")
    } else if source == EngineAudio::Encoded {
        None
    } else {
        Some(plan.format.content_type())
    };
    if let Some(content_type) = content_type {
        parts.headers.insert(
            header::CONTENT_TYPE,
            http::HeaderValue::from_static(content_type),
        );
    }
    let body = Transcoded {
        relay,
        pipeline,
        input: first,
        ready: Some(ready),
        finished: false,
    };
    Ok(Response::from_parts(parts, Body::new(body)))
}

/// How much of the engine's audio is encoded at a time. Engines send a whole sentence at
/// once; encoding it in slices lets the first of it reach the client before the rest is
/// encoded (~100 ms of 24 kHz audio).
const SLICE: usize = 4800;

/// A relay whose audio goes through a [`Pipeline`]. Dropping it (the client left) drops the
/// engine connection, which stops the engine's synthesis.
struct Transcoded {
    relay: Relay,
    pipeline: Pipeline,
    /// Engine bytes received but not yet encoded.
    input: Bytes,
    /// Encoded bytes not yet handed to the client.
    ready: Option<Vec<u8>>,
    finished: bool,
}

impl http_body::Body for Transcoded {
    type Data = Bytes;
    type Error = RelayError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, RelayError>>> {
        let this = &mut *self;
        loop {
            if let Some(out) = this.ready.take()
                && !out.is_empty()
            {
                return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
            }
            if !this.input.is_empty() {
                let slice = this.input.split_to(SLICE.min(this.input.len()));
                match this.pipeline.push(&slice) {
                    Ok(out) => this.ready = Some(out),
                    Err(e) => {
                        tracing::warn!(error = %e, "aborting the client connection");
                        return Poll::Ready(Some(Err(RelayError::Audio(e))));
                    }
                }
                continue;
            }
            if this.finished {
                return Poll::Ready(None);
            }
            let encoded = match ready!(Pin::new(&mut this.relay).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => {
                        this.input = data;
                        continue;
                    }
                    Err(_trailers) => continue,
                },
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => {
                    this.finished = true;
                    this.pipeline.finish()
                }
            };
            match encoded {
                Ok(out) => this.ready = Some(out),
                Err(e) => {
                    tracing::warn!(error = %e, "aborting the client connection");
                    return Poll::Ready(Some(Err(RelayError::Audio(e))));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.finished && self.input.is_empty() && self.ready.as_ref().is_none_or(Vec::is_empty)
    }
}
