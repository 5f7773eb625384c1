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

use super::config::SessionConfig;
use super::input::Input;
use super::protocol::{self, BadEvent, ClientEvent, Ids, Shape};
use super::vad::{Edge, Vad};
use super::words::Words;
use crate::proxy::ProxyState;
use crate::transcription::decode::RATE;

mod turns;

/// How long a send may wait for a client that does not read.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
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
    #[error("Murmur is shutting down")]
    ShuttingDown,
}

/// A decode's answer, back from its task.
struct Answer {
    item_id: String,
    kind: Kind,
    result: Result<String, crate::api_error::ApiError>,
}

/// Which decode of a turn answered.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// Of the turn so far (its first `n` samples), for words while it is spoken.
    Partial(usize),
    /// Of the committed turn: its transcript.
    Final,
    /// Of the turn so far (its first `n` samples), started when the speech paused: its
    /// transcript if the turn ends before the speech resumes ([`Early`]).
    Early(usize),
}

/// A turn's final decode begun early, when its speech paused: if the VAD ends the turn before
/// any voice comes back, this answer is its transcript and the turn's end waits for no new
/// decode. Voice before then makes it stale.
struct Early {
    item_id: String,
    covered: usize,
    /// The VAD's last voice when it began ([`Vad::last_voice`]): any voice since makes it stale.
    voice: u64,
    /// `None` while it runs.
    result: Option<Result<String, crate::api_error::ApiError>>,
}

/// The turn being spoken (or, without turn detection, the buffer being filled).
struct Turn {
    item_id: String,
    words: Words,
    /// When its speech began, for the first-delta figure.
    began: Instant,
    first_sent: bool,
}

/// A turn committed and waiting for its final decode.
struct Waiting {
    item_id: String,
    words: Words,
    samples: Vec<i16>,
    began: Instant,
    first_sent: bool,
    /// Its final decode, begun before it was committed.
    early: Option<Early>,
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
    /// When the last partial decode began; the next waits as long as it took, so partial
    /// decodes keep the engine at most half busy and a turn's end rarely waits behind one.
    partial_began: Instant,
    rest_until: Instant,
    /// The speaking turn's early final decode.
    early: Option<Early>,
    /// Whether the engine takes a prefix (Murmur's Whisper route): partial decodes need it.
    streams: bool,
    results: (mpsc::Sender<Answer>, mpsc::Receiver<Answer>),
    /// Murmur is stopping: no new audio is taken, the turns under way are finished.
    stopping: bool,
    /// Audio received, in samples at 16 kHz.
    pub heard: u64,
    pub bytes: u64,
}

impl Session {
    pub fn new(state: ProxyState, socket: WebSocket, shape: Shape, model: Option<String>) -> Self {
        let config = SessionConfig::new(model);
        let streams = super::words::engine_streams(&state);
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
            partial_began: Instant::now(),
            rest_until: Instant::now(),
            early: None,
            streams,
            results: mpsc::channel(4),
            stopping: false,
            heard: 0,
            bytes: 0,
        }
    }

    /// Serve the session until the client leaves, a bound ends it, or Murmur stops (then the
    /// turn being spoken is committed and every turn's transcript sent first).
    pub async fn run(
        &mut self,
        idle: Duration,
        longest: Duration,
        lifeline: &mut crate::drain::Lifeline,
    ) -> Result<(), Ended> {
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
                        // Stopping: what the client sends now is not taken.
                        Some(Ok(_)) if self.stopping => {}
                        Some(Ok(Message::Text(text))) => self.event(text.as_str()).await?,
                        Some(Ok(Message::Binary(_))) => {
                            let bad = BadEvent::new("invalid_event", "events are JSON text messages");
                            self.refuse(&bad).await?;
                        }
                        Some(Ok(_)) => {}
                    }
                }
                Some(done) = self.results.1.recv() => self.answered(done).await?,
                () = tokio::time::sleep_until(deadline) => {
                    return Err(Ended::TooLong(longest.as_secs()));
                }
                () = lifeline.stopped(), if !self.stopping => {
                    self.stopping = true;
                    if self.turn.is_some() && self.vad.is_some() {
                        let end = (self.buffer_at + self.buffer.len() as u64) * 1000
                            / u64::from(RATE);
                        self.speech_stopped(end).await?;
                    }
                }
            }
            if self.stopping && self.waiting.is_empty() && self.finishing.is_none() {
                return Err(Ended::ShuttingDown);
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
                self.early = None;
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
        self.voice_resumed();
        self.schedule();
        Ok(())
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

    /// Close the socket, saying why, in the shape of an `error` event then a close frame
    /// (1001, going away, when Murmur is stopping).
    pub async fn close(mut self, why: &Ended) {
        if !matches!(why, Ended::Closed | Ended::Broken(_) | Ended::NotReading) {
            let bad = BadEvent::new("session_ended", format!("the session ended: {why}"));
            let _ = self.refuse(&bad).await;
        }
        let frame = matches!(why, Ended::ShuttingDown).then(|| axum::extract::ws::CloseFrame {
            code: axum::extract::ws::close_code::AWAY,
            reason: "Murmur is shutting down".into(),
        });
        let _ = tokio::time::timeout(SEND_TIMEOUT, self.socket.send(Message::Close(frame))).await;
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
