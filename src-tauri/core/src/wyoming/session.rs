//! One connection: its events read in turn, and what it is doing between them ([`Doing`]).
//! Each request (a synthesis, a transcription) is counted and logged as an HTTP request is:
//! in progress while it runs, then a line of Activity and the metrics ([`Session::finished`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::io::{AsyncWrite, BufReader};
use tokio::net::TcpStream;

use super::audio::{Utterance, split_sentences};
use super::message::{Declared, Incoming, Outgoing};
use super::{IDLE, READ, event, info};
use crate::proxy::ProxyState;

/// What a session is in the middle of.
pub(super) enum Doing {
    /// Between requests.
    Nothing,
    /// Streaming synthesis: the voice, and the text not yet a whole sentence.
    Streaming {
        voice: Option<serde_json::Value>,
        pending: String,
    },
    /// `transcribe` came; the audio has not begun.
    Awaiting { language: Option<String> },
    /// An utterance arriving, decoded as it comes (and, when the engine streams, its words
    /// so far).
    Hearing {
        language: Option<String>,
        audio: Box<Utterance>,
        words: crate::live::Words,
    },
    /// An utterance refused midway: its remaining chunks are dropped until `audio-stop`.
    Discarding,
}

/// One connection's state.
pub(super) struct Session {
    pub(super) state: ProxyState,
    data_dir: Arc<PathBuf>,
    pub(super) peer: SocketAddr,
    pub(super) doing: Doing,
    refused: crate::accept::SharedThrottle,
    /// Words while an utterance arrives ([`super::hear`]).
    pub(super) streaming: super::hear::Streaming,
}

/// Why a session ends.
#[derive(Debug, thiserror::Error)]
pub(super) enum SessionError {
    #[error("{0}")]
    Read(#[from] event::ReadError),
    #[error("the client left: {0}")]
    Write(#[from] std::io::Error),
    #[error("the client sent nothing for {} s", IDLE.as_secs())]
    Idle,
    #[error("an event took longer than {} s to arrive", READ.as_secs())]
    SlowEvent,
}

/// Where a session writes.
pub(super) type Out<'a> = &'a mut (dyn AsyncWrite + Unpin + Send);

impl Session {
    pub(super) fn new(
        state: ProxyState,
        data_dir: Arc<PathBuf>,
        peer: SocketAddr,
        refused: crate::accept::SharedThrottle,
    ) -> Self {
        Self {
            state,
            data_dir,
            peer,
            doing: Doing::Nothing,
            refused,
            streaming: super::hear::Streaming::default(),
        }
    }

    pub(super) async fn run(mut self, stream: TcpStream) -> Result<(), SessionError> {
        use tokio::io::AsyncBufReadExt;
        let _ = stream.set_nodelay(true);
        let (reader, mut writer) = stream.into_split();
        let mut reader = BufReader::new(reader);
        loop {
            // Idle between events; once an event begins, it must arrive whole in time (a
            // client trickling bytes cannot hold its slot).
            // Between events, a partial decode's words may come back.
            let filled = tokio::select! {
                filled = tokio::time::timeout(IDLE, reader.fill_buf()) => match filled {
                    Err(_) => Err(SessionError::Idle),
                    Ok(Err(e)) => Err(SessionError::Read(e.into())),
                    Ok(Ok(_)) => Ok(()),
                },
                Some(partial) = self.streaming.answers.1.recv() => {
                    self.partial_answered(partial, &mut writer).await?;
                    continue;
                }
            };
            filled?;
            let frame = tokio::time::timeout(READ, event::read(&mut reader))
                .await
                .map_err(|_| SessionError::SlowEvent)??;
            let Some(frame) = frame else {
                return Ok(());
            };
            self.handle(Incoming::from_frame(frame), &mut writer)
                .await?;
        }
    }

    pub(super) async fn send(&self, out: Out<'_>, message: Outgoing) -> std::io::Result<()> {
        event::write(out, &message.frame()).await
    }

    async fn handle(&mut self, incoming: Incoming, out: Out<'_>) -> Result<(), SessionError> {
        match incoming {
            Incoming::Describe => {
                let info = info::info(&self.state, &self.data_dir).await;
                self.send(out, Outgoing::Info(info)).await?;
            }
            // Sent beside a stream for servers that do not stream: already handled.
            Incoming::Synthesize { .. } if matches!(self.doing, Doing::Streaming { .. }) => {}
            Incoming::Synthesize { text, voice } => {
                tracing::info!(peer = %self.peer, chars = text.chars().count(), "wyoming: synthesize");
                self.synthesize(&text, voice.as_ref(), out).await?;
            }
            Incoming::SynthesizeStart { voice } => {
                self.doing = Doing::Streaming {
                    voice,
                    pending: String::new(),
                };
            }
            Incoming::SynthesizeChunk { text } => {
                let Doing::Streaming { voice, pending } = &mut self.doing else {
                    return self
                        .error(out, "synthesize-chunk outside a stream", "protocol")
                        .await;
                };
                pending.push_str(&text);
                let (whole, rest) = split_sentences(pending);
                *pending = rest;
                let voice = voice.clone();
                if !whole.trim().is_empty() {
                    self.synthesize(&whole, voice.as_ref(), out).await?;
                }
            }
            Incoming::SynthesizeStop => {
                if let Doing::Streaming { voice, pending } =
                    std::mem::replace(&mut self.doing, Doing::Nothing)
                    && !pending.trim().is_empty()
                {
                    self.synthesize(&pending, voice.as_ref(), out).await?;
                }
                self.send(out, Outgoing::SynthesizeStopped).await?;
            }
            Incoming::Transcribe { language } => {
                self.doing = Doing::Awaiting { language: None };
                if let Some(language) = language {
                    match crate::transcription::form::check_language(&language) {
                        Ok(code) => {
                            self.doing = Doing::Awaiting {
                                language: Some(code),
                            }
                        }
                        Err(e) => return self.error(out, e.message(), e.code.as_str()).await,
                    }
                }
            }
            Incoming::AudioStart(declared) => self.begin(declared, out).await?,
            Incoming::AudioChunk(..) if matches!(self.doing, Doing::Discarding) => {}
            Incoming::AudioChunk(declared, payload) => {
                if let Doing::Hearing { audio, .. } = &self.doing
                    && audio.differs(declared)
                {
                    self.doing = Doing::Discarding;
                    return self
                        .error(
                            out,
                            "the audio's format changed mid-utterance",
                            "unsupported_audio",
                        )
                        .await;
                }
                if !matches!(self.doing, Doing::Hearing { .. }) {
                    self.begin(declared, out).await?;
                }
                let pushed = match (&mut self.doing, &payload) {
                    (Doing::Hearing { audio, .. }, Some(payload)) => audio.push(payload),
                    _ => Ok(()),
                };
                if let Err((text, code)) = pushed {
                    self.doing = Doing::Discarding;
                    return self.error(out, &text, code).await;
                }
                self.maybe_partial();
            }
            Incoming::AudioStop => {
                if let Doing::Hearing {
                    language,
                    audio,
                    words,
                } = std::mem::replace(&mut self.doing, Doing::Nothing)
                {
                    self.transcribe(*audio, language, words, out).await?;
                }
            }
            Incoming::Ping => self.send(out, Outgoing::Pong).await?,
            Incoming::Other(_) => {}
        }
        Ok(())
    }

    /// An utterance in the format `declared`, in the language `transcribe` asked for; when
    /// Murmur cannot take it, an `error` event, and the rest of the utterance dropped.
    async fn begin(&mut self, declared: Declared, out: Out<'_>) -> Result<(), SessionError> {
        let language = match std::mem::replace(&mut self.doing, Doing::Nothing) {
            Doing::Awaiting { language } => language,
            _ => None,
        };
        let settings = self.state.live().get().transcription.clone();
        let max_bytes = settings.max_upload_mb.saturating_mul(1024 * 1024);
        match Utterance::start(declared, max_bytes, settings.max_audio_secs) {
            Ok(audio) => {
                self.streaming.begin(&self.state);
                self.doing = Doing::Hearing {
                    language,
                    audio: Box::new(audio),
                    words: crate::live::Words::default(),
                };
                Ok(())
            }
            Err((text, code)) => {
                self.doing = Doing::Discarding;
                self.error(out, &text, code).await
            }
        }
    }

    /// Tell the client what went wrong (logged at most so often: a client can repeat it).
    pub(super) async fn error(
        &self,
        out: Out<'_>,
        text: &str,
        code: &str,
    ) -> Result<(), SessionError> {
        if let Some(more) = crate::accept::allow(&self.refused) {
            tracing::info!(peer = %self.peer, code, also_refused = more, "wyoming: {text}");
        }
        let error = Outgoing::Error {
            text: text.into(),
            code: code.into(),
        };
        self.send(out, error).await?;
        Ok(())
    }

    /// A request of this session begins: it counts as in progress until it is
    /// [finished](Request::finished) (or dropped).
    pub(super) fn request(&self, what: &'static str) -> Request {
        let metrics = self.state.metrics();
        Request {
            in_progress: metrics.begin(),
            metrics,
            what,
            peer: self.peer,
            started: std::time::Instant::now(),
        }
    }
}

/// One Wyoming request, measured as an HTTP request is.
pub(super) struct Request {
    metrics: Arc<crate::metrics::Metrics>,
    in_progress: crate::metrics::InProgress,
    what: &'static str,
    peer: SocketAddr,
    pub(super) started: std::time::Instant,
}

impl Request {
    /// One line of Activity (and the metrics): its status, when its first audio went out, how
    /// many bytes of audio it moved.
    pub(super) fn finished(
        self,
        status: u16,
        first: Option<f64>,
        bytes: u64,
        transcribed: Option<crate::metrics::TranscribedAudio>,
    ) {
        let total_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        self.metrics.record(self.what, status, total_ms);
        let at_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
            .saturating_sub(total_ms as u64);
        self.metrics.finished(crate::metrics::Recent {
            at_ms,
            method: "WYOMING".into(),
            path: self.what.into(),
            status,
            format: (self.what == "wyoming synthesize").then_some("pcm"),
            agent: format!("wyoming client {}", self.peer),
            first_byte_ms: first,
            total_ms: (total_ms * 10.0).round() / 10.0,
            bytes,
            complete: true,
            transcribed,
        });
        drop(self.in_progress);
    }
}
