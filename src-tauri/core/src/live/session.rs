//! One live session: the client's events read in turn, its audio decoded and cut into turns
//! by the VAD (or by the client's commits), each turn decoded again as it grows for words
//! while people speak ([`Agreement`]) and once more when it ends for the completed transcript.
//!
//! One engine request per session at a time: a turn's final decode goes first, partial decodes
//! only while nothing else waits. Sends are awaited with a deadline, so a client that stops
//! reading stops its session, not Murmur's memory.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::agreement::Agreement;
use super::config::SessionConfig;
use super::input::Input;
use super::protocol::{self, BadEvent, ClientEvent, Ids, Shape};
use super::vad::{Edge, Vad};
use crate::proxy::ProxyState;
use crate::transcription::decode::{Decoded, RATE};
use crate::transcription::engine::Options;

/// How long a send may wait for a client that does not read.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Audio a turn gains between partial decodes.
const PARTIAL_STEP: usize = RATE as usize * 7 / 10;
/// A turn is decoded for words once it holds this much.
const FIRST_PARTIAL: usize = RATE as usize;
/// A turn this long is cut and a new one begun (Whisper hears 30 s at a time).
const LONGEST_TURN: usize = RATE as usize * 28;
/// Audio that may wait uncommitted (without turn detection): 10 minutes.
const MAX_UNCOMMITTED: usize = RATE as usize * 600;
/// The least a commit takes (OpenAI's: 100 ms).
const LEAST_COMMIT: usize = RATE as usize / 10;
/// Turns waiting for their transcript at once; more commits are refused.
const MAX_WAITING: usize = 16;

/// Why a session ended.
#[derive(Debug, thiserror::Error)]
pub enum Ended {
    #[error("the client closed it")]
    Closed,
    #[error("the client sent nothing for {0} s")]
    Idle(u64),
    #[error("it reached its longest ({0} s)")]
    TooLong(u64),
    #[error("the client stopped reading")]
    NotReading,
    #[error("the connection failed: {0}")]
    Broken(String),
}

/// A decode's answer, back from its task.
struct Answer {
    item_id: String,
    /// A partial decode (`Some(samples decoded)`) or the turn's final one.
    partial: Option<usize>,
    result: Result<String, crate::api_error::ApiError>,
}

/// The turn being spoken (or, without turn detection, the buffer being filled).
struct Turn {
    item_id: String,
    agreement: Agreement,
    /// When its speech began, for the first-delta figure.
    began: Instant,
    first_sent: bool,
    /// Samples of the buffer its last partial decode covered.
    decoded: usize,
}

/// A turn committed and waiting for its final decode.
struct Waiting {
    item_id: String,
    agreement: Agreement,
    samples: Vec<i16>,
    began: Instant,
    first_sent: bool,
}

pub struct Session {
    state: ProxyState,
    socket: WebSocket,
    ids: Ids,
    id: String,
    shape: Shape,
    config: SessionConfig,
    input: Input,
    vad: Option<Vad>,
    /// Uncommitted audio at 16 kHz; `buffer_at` is its first sample's place in the session.
    buffer: Vec<i16>,
    buffer_at: u64,
    turn: Option<Turn>,
    previous_item: Option<String>,
    waiting: VecDeque<Waiting>,
    /// The turn whose final decode is running.
    finishing: Option<Waiting>,
    /// A partial decode is running.
    partial_running: bool,
    /// Whether the engine takes a prefix (Murmur's Whisper route): partial decodes need it.
    streams: bool,
    results: (mpsc::Sender<Answer>, mpsc::Receiver<Answer>),
    /// Audio received, in samples at 16 kHz.
    pub heard: u64,
    pub bytes: u64,
}

impl Session {
    pub fn new(state: ProxyState, socket: WebSocket, shape: Shape, model: Option<String>) -> Self {
        let config = SessionConfig::new(model);
        let settings = state.live().get().transcription.clone();
        let streams = matches!(
            crate::engine::transcription_engine(settings.engine).transcribes_with(),
            crate::engine::Transcribes::MurmurPcm
        );
        let ids = Ids::default();
        Self {
            id: ids.session(),
            input: Input::new(config.format),
            vad: config.turn_detection.clone().map(Vad::new),
            state,
            socket,
            ids,
            shape,
            config,
            buffer: Vec::new(),
            buffer_at: 0,
            turn: None,
            previous_item: None,
            waiting: VecDeque::new(),
            finishing: None,
            partial_running: false,
            streams,
            results: mpsc::channel(4),
            heard: 0,
            bytes: 0,
        }
    }

    /// Serve the session until the client leaves or a bound ends it.
    pub async fn run(&mut self, idle: Duration, longest: Duration) -> Result<(), Ended> {
        let created = match self.shape {
            Shape::Ga => ("session.created", self.config.describe_ga(&self.id)),
            Shape::Beta => (
                "transcription_session.created",
                self.config.describe_beta(&self.id),
            ),
        };
        self.send(created.0, json!({ "session": created.1 }))
            .await?;
        let deadline = tokio::time::Instant::now() + longest;
        loop {
            tokio::select! {
                message = tokio::time::timeout(idle, self.socket.recv()) => {
                    let message = message.map_err(|_| Ended::Idle(idle.as_secs()))?;
                    match message {
                        None | Some(Ok(Message::Close(_))) => return Err(Ended::Closed),
                        Some(Err(e)) => return Err(Ended::Broken(e.to_string())),
                        Some(Ok(Message::Text(text))) => self.event(text.as_str()).await?,
                        Some(Ok(Message::Binary(_))) => {
                            let bad = BadEvent::new("invalid_event", "events are JSON text messages");
                            self.refuse(&bad).await?;
                        }
                        Some(Ok(_)) => {}
                    }
                }
                Some(done) = self.results.1.recv() => self.decoded(done).await?,
                () = tokio::time::sleep_until(deadline) => {
                    return Err(Ended::TooLong(longest.as_secs()));
                }
            }
        }
    }

    async fn event(&mut self, text: &str) -> Result<(), Ended> {
        match protocol::parse(text) {
            Err(bad) => self.refuse(&bad).await,
            Ok(ClientEvent::Update { shape, session }) => self.update(shape, &session).await,
            Ok(ClientEvent::Append(bytes)) => self.append(&bytes).await,
            Ok(ClientEvent::Commit) => self.commit().await,
            Ok(ClientEvent::Clear) => {
                self.buffer_at += self.buffer.len() as u64;
                self.buffer.clear();
                self.turn = None;
                if let Some(vad) = &mut self.vad {
                    vad.reset();
                }
                self.send("input_audio_buffer.cleared", json!({})).await
            }
        }
    }

    async fn update(&mut self, shape: Shape, session: &Value) -> Result<(), Ended> {
        let updated = match shape {
            Shape::Ga => self.config.update_ga(session),
            Shape::Beta => self.config.update_beta(session),
        };
        if let Err(invalid) = updated {
            let bad = BadEvent {
                param: Some(invalid.param),
                ..BadEvent::new("invalid_value", invalid.message)
            };
            return self.refuse(&bad).await;
        }
        if self.input.format() != self.config.format {
            self.input = Input::new(self.config.format);
        }
        match (&mut self.vad, self.config.turn_detection.clone()) {
            (Some(vad), Some(turn)) => vad.set(turn),
            (vad, turn) => *vad = turn.map(Vad::new),
        }
        let (kind, described) = match shape {
            Shape::Ga => ("session.updated", self.config.describe_ga(&self.id)),
            Shape::Beta => (
                "transcription_session.updated",
                self.config.describe_beta(&self.id),
            ),
        };
        self.send(kind, json!({ "session": described })).await
    }

    async fn append(&mut self, bytes: &[u8]) -> Result<(), Ended> {
        let mut samples = Vec::with_capacity(bytes.len());
        self.input.push(bytes, &mut samples);
        self.bytes += bytes.len() as u64;
        self.heard += samples.len() as u64;
        if self.vad.is_none() && self.buffer.len() + samples.len() > MAX_UNCOMMITTED {
            let bad = BadEvent::new(
                "input_audio_buffer_too_large",
                format!(
                    "the input audio buffer holds {} s at most; commit or clear it",
                    MAX_UNCOMMITTED / RATE as usize
                ),
            );
            return self.refuse(&bad).await;
        }
        let mut edges = Vec::new();
        if let Some(vad) = &mut self.vad {
            vad.push(&samples, &mut edges);
        }
        // Each edge at its place in the audio: the samples before it first.
        let mut rest = samples.as_slice();
        let at = |ms: u64| ms * u64::from(RATE) / 1000;
        for edge in edges {
            let place = match edge {
                Edge::Started { start_ms } => at(start_ms),
                Edge::Stopped { end_ms } => at(end_ms),
            };
            let end = self.buffer_at + self.buffer.len() as u64;
            let take = usize::try_from(place.saturating_sub(end))
                .unwrap_or(usize::MAX)
                .min(rest.len());
            self.buffer.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            match edge {
                Edge::Started { start_ms } => self.speech_started(start_ms).await?,
                Edge::Stopped { end_ms } => self.speech_stopped(end_ms).await?,
            }
        }
        self.buffer.extend_from_slice(rest);
        if self.turn.is_none() && self.vad.is_some() {
            // Between turns, only the padding a next turn would begin with is kept.
            let keep = padding(vad_padding_ms(&self.config) + 100);
            if self.buffer.len() > keep * 2 {
                let drop = self.buffer.len() - keep;
                self.buffer.drain(..drop);
                self.buffer_at += drop as u64;
            }
        }
        if self.turn.is_some() && self.buffer.len() >= LONGEST_TURN {
            self.cut_long_turn().await?;
        }
        self.maybe_partial();
        Ok(())
    }

    async fn speech_started(&mut self, start_ms: u64) -> Result<(), Ended> {
        let padded = (start_ms * u64::from(RATE) / 1000)
            .saturating_sub(padding(vad_padding_ms(&self.config)) as u64)
            .max(self.buffer_at);
        let drop = usize::try_from(padded - self.buffer_at).unwrap_or(0);
        self.buffer.drain(..drop.min(self.buffer.len()));
        self.buffer_at = padded;
        let item_id = self.ids.item();
        self.turn = Some(Turn {
            item_id: item_id.clone(),
            agreement: Agreement::default(),
            began: Instant::now(),
            first_sent: false,
            decoded: 0,
        });
        let audio_start_ms = padded * 1000 / u64::from(RATE);
        self.send(
            "input_audio_buffer.speech_started",
            json!({ "audio_start_ms": audio_start_ms, "item_id": item_id }),
        )
        .await
    }

    async fn speech_stopped(&mut self, end_ms: u64) -> Result<(), Ended> {
        let Some(turn) = &self.turn else {
            return Ok(());
        };
        let item_id = turn.item_id.clone();
        self.send(
            "input_audio_buffer.speech_stopped",
            json!({ "audio_end_ms": end_ms, "item_id": item_id }),
        )
        .await?;
        self.commit().await
    }

    /// A turn as long as Whisper hears is committed; the speech goes on in a new one.
    async fn cut_long_turn(&mut self) -> Result<(), Ended> {
        self.commit().await
    }

    /// End the turn: the buffer becomes an item, committed, and waits for its transcript.
    async fn commit(&mut self) -> Result<(), Ended> {
        if self.buffer.len() < LEAST_COMMIT {
            self.turn = None;
            let bad = BadEvent::new(
                "input_audio_buffer_commit_empty",
                format!(
                    "buffer too small: expected at least 100 ms of audio, but the buffer holds {} ms",
                    self.buffer.len() * 1000 / RATE as usize
                ),
            );
            return self.refuse(&bad).await;
        }
        if self.waiting.len() >= MAX_WAITING {
            let bad = BadEvent::new(
                "too_many_turns",
                format!("{MAX_WAITING} turns are already waiting for their transcripts"),
            );
            return self.refuse(&bad).await;
        }
        let turn = self.turn.take().unwrap_or_else(|| Turn {
            item_id: self.ids.item(),
            agreement: Agreement::default(),
            began: Instant::now(),
            first_sent: false,
            decoded: 0,
        });
        let samples = std::mem::take(&mut self.buffer);
        self.buffer_at += samples.len() as u64;
        // A commit while the VAD hears speech (the client's, or a long turn cut) ends the
        // turn: speech that goes on begins the next.
        if let Some(vad) = &mut self.vad {
            vad.reset();
        }
        let previous = self.previous_item.replace(turn.item_id.clone());
        self.send(
            "input_audio_buffer.committed",
            json!({ "previous_item_id": previous, "item_id": turn.item_id }),
        )
        .await?;
        self.waiting.push_back(Waiting {
            item_id: turn.item_id,
            agreement: turn.agreement,
            samples,
            began: turn.began,
            first_sent: turn.first_sent,
        });
        self.next_final();
        Ok(())
    }

    /// Start the next committed turn's final decode, if none is running.
    fn next_final(&mut self) {
        if self.finishing.is_some() {
            return;
        }
        let Some(waiting) = self.waiting.pop_front() else {
            return;
        };
        let prefix = Some(waiting.agreement.sent().to_string()).filter(|p| !p.is_empty());
        self.decode(
            waiting.item_id.clone(),
            waiting.samples.clone(),
            prefix,
            None,
        );
        self.finishing = Some(waiting);
    }

    /// Start a partial decode of the turn being spoken, when it has grown enough and the
    /// engine is free of this session's other work.
    fn maybe_partial(&mut self) {
        if !self.streams || self.partial_running || self.finishing.is_some() {
            return;
        }
        let Some(turn) = &self.turn else {
            return;
        };
        let length = self.buffer.len();
        if length < FIRST_PARTIAL || length < turn.decoded + PARTIAL_STEP {
            return;
        }
        let prefix = Some(turn.agreement.sent().to_string()).filter(|p| !p.is_empty());
        let item_id = turn.item_id.clone();
        self.partial_running = true;
        self.decode(item_id, self.buffer.clone(), prefix, Some(length));
    }

    fn decode(
        &self,
        item_id: String,
        samples: Vec<i16>,
        prefix: Option<String>,
        partial: Option<usize>,
    ) {
        let state = self.state.clone();
        let sender = self.results.0.clone();
        let options = Options {
            language: self.config.language.clone(),
            prompt: self.config.prompt.clone(),
            prefix,
            hotwords: Some(self.config.keywords.join(", ")).filter(|k| !k.is_empty()),
            ..Options::default()
        };
        let session = self.id.clone();
        tokio::spawn(async move {
            let asked = Instant::now();
            let seconds = samples.len() as f64 / f64::from(RATE);
            let decoded = Decoded {
                samples,
                format: "pcm",
                seconds,
            };
            let result = crate::proxy::transcribe_with(&state, decoded, options)
                .await
                .map(|t| t.text());
            tracing::debug!(
                %session,
                seconds,
                partial = partial.is_some(),
                took_ms = asked.elapsed().as_millis() as u64,
                "live: decoded {:?}",
                result.as_ref().map(String::as_str).unwrap_or("(failed)")
            );
            let _ = sender
                .send(Answer {
                    item_id,
                    partial,
                    result,
                })
                .await;
        });
    }

    async fn decoded(&mut self, done: Answer) -> Result<(), Ended> {
        match done.partial {
            Some(covered) => {
                self.partial_running = false;
                let delta = match (&mut self.turn, done.result) {
                    (Some(turn), Ok(text)) if turn.item_id == done.item_id => {
                        turn.decoded = covered;
                        turn.agreement.partial(&text)
                    }
                    _ => None,
                };
                if let Some(delta) = delta {
                    self.first_words();
                    self.delta(&done.item_id, &delta).await?;
                }
                self.maybe_partial();
            }
            None => {
                let Some(turn) = self.finishing.take() else {
                    return Ok(());
                };
                match done.result {
                    Ok(text) => {
                        let (last, transcript) = turn.agreement.finish(&text);
                        if let Some(last) = last {
                            if !turn.first_sent {
                                let metrics = self.state.metrics();
                                metrics.live.first_delta(turn.began.elapsed().as_secs_f64());
                            }
                            self.delta(&turn.item_id, &last).await?;
                        }
                        self.state.metrics().live.turn();
                        let seconds = turn.samples.len() as f64 / f64::from(RATE);
                        self.send(
                            "conversation.item.input_audio_transcription.completed",
                            json!({
                                "item_id": turn.item_id,
                                "content_index": 0,
                                "transcript": transcript,
                                "usage": { "type": "duration", "seconds": (seconds * 1000.0).round() / 1000.0 },
                                "logprobs": null,
                            }),
                        )
                        .await?;
                    }
                    Err(e) => {
                        tracing::info!(session = %self.id, "live: a turn's transcription failed: {}", e.message());
                        self.send(
                            "conversation.item.input_audio_transcription.failed",
                            json!({
                                "item_id": turn.item_id,
                                "content_index": 0,
                                "error": {
                                    "type": "transcription_error",
                                    "code": e.code.as_str(),
                                    "message": e.message(),
                                    "param": null,
                                },
                            }),
                        )
                        .await?;
                    }
                }
                self.next_final();
                self.maybe_partial();
            }
        }
        Ok(())
    }

    /// The speaking turn sent its first words: how long after its speech began.
    fn first_words(&mut self) {
        if let Some(turn) = &mut self.turn
            && !turn.first_sent
        {
            turn.first_sent = true;
            let metrics = self.state.metrics();
            metrics.live.first_delta(turn.began.elapsed().as_secs_f64());
        }
    }

    async fn delta(&mut self, item_id: &str, delta: &str) -> Result<(), Ended> {
        self.send(
            "conversation.item.input_audio_transcription.delta",
            json!({ "item_id": item_id, "content_index": 0, "delta": delta }),
        )
        .await
    }

    async fn refuse(&mut self, bad: &BadEvent) -> Result<(), Ended> {
        tracing::debug!(session = %self.id, code = bad.code, "live: {}", bad.message);
        let event = self.ids.error(bad);
        self.send_value(event).await
    }

    async fn send(&mut self, kind: &str, event: Value) -> Result<(), Ended> {
        let event = self.ids.event(kind, event);
        self.send_value(event).await
    }

    async fn send_value(&mut self, event: Value) -> Result<(), Ended> {
        let text = event.to_string();
        match tokio::time::timeout(SEND_TIMEOUT, self.socket.send(Message::Text(text.into()))).await
        {
            Err(_) => Err(Ended::NotReading),
            Ok(Err(e)) => Err(Ended::Broken(e.to_string())),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// A conversation session (no `intent=transcription`): Murmur has none; say so and close.
    pub async fn refuse_conversation(mut self) {
        let bad = BadEvent::new(
            "unsupported_intent",
            "Murmur serves transcription sessions only: connect to /v1/realtime?intent=transcription",
        );
        let _ = self.refuse(&bad).await;
        let _ = tokio::time::timeout(SEND_TIMEOUT, self.socket.send(Message::Close(None))).await;
    }

    /// Close the socket, saying why, in the shape of an `error` event then a close frame.
    pub async fn close(mut self, why: &Ended) {
        if !matches!(why, Ended::Closed | Ended::Broken(_) | Ended::NotReading) {
            let bad = BadEvent::new("session_ended", format!("the session ended: {why}"));
            let _ = self.refuse(&bad).await;
        }
        let _ = tokio::time::timeout(SEND_TIMEOUT, self.socket.send(Message::Close(None))).await;
    }
}

fn vad_padding_ms(config: &SessionConfig) -> u32 {
    config
        .turn_detection
        .as_ref()
        .map_or(0, |t| t.prefix_padding_ms)
}

fn padding(ms: u32) -> usize {
    ms as usize * RATE as usize / 1000
}
