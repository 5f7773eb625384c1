//! Home Assistant's own protocol: Murmur as a Wyoming speech and transcription server.
//!
//! A second front door onto the same engines (never a second set of them): synthesis goes
//! through the proxy's speech path and transcription through its listening path, so engines
//! start on first use with the same single-flight start, share the same gates, unload when
//! idle and are restarted after crashes exactly as for HTTP. One connection is one session of
//! events ([`event`]): `describe` → `info`; `synthesize` → `audio-start`, `audio-chunk`… as the
//! engine produces them, `audio-stop`; streaming synthesis (`synthesize-start`,
//! `synthesize-chunk`…, `synthesize-stop`) → audio per sentence as sentences complete, then
//! `synthesize-stopped`; `transcribe` + `audio-start`/`audio-chunk`…/`audio-stop` at any rate,
//! width and channel count → `transcript`. A request nothing can serve is an `error` event and
//! the connection stays usable; garbage, an overlong line or a lying `payload_length` closes
//! that connection only. Wyoming has no authentication: only loopback clients, or the
//! networks `[wyoming] allowed_networks` lists, are served.

mod audio;
pub mod event;
mod info;
mod zeroconf;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncWrite, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::config::{Network, WyomingSettings};
use crate::proxy::ProxyState;
use audio::{Utterance, split_sentences};
use event::Event;

/// The rate, width and channels of the PCM Murmur sends (OpenAI's `pcm`).
const RATE: u32 = crate::audio::OUTPUT_RATE;

/// Serve Wyoming on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: ProxyState,
    settings: WyomingSettings,
    data_dir: PathBuf,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let networks: Arc<Vec<Network>> = Arc::new(
        settings
            .allowed_networks
            .iter()
            .filter_map(|n| Network::parse(n))
            .collect(),
    );
    let mut acceptor = crate::accept::Acceptor::new("wyoming", settings.max_connections as usize);
    let refused: crate::accept::SharedThrottle = Arc::new(std::sync::Mutex::new(
        crate::accept::Throttle::new(REFUSALS_LOGGED_EVERY),
    ));
    let data_dir = Arc::new(data_dir);
    // Announced on the LAN only when it listens beyond loopback (kept until this returns).
    let _announced = match listener.local_addr() {
        Ok(addr) => zeroconf::announce(addr),
        Err(_) => None,
    };
    tokio::pin!(shutdown);
    loop {
        // A slot first, then the connection: at the cap, clients wait in the kernel's queue.
        let (stream, peer, slot) = tokio::select! {
            () = &mut shutdown => return,
            accepted = acceptor.accept(&listener) => accepted,
        };
        if !allowed(&networks, peer) {
            if let Some(more) = crate::accept::allow(&refused) {
                tracing::warn!(%peer, also_refused = more, "wyoming: refused a connection from outside the allowed networks");
            }
            continue;
        }
        let (state, data_dir, refused) = (state.clone(), data_dir.clone(), refused.clone());
        tokio::spawn(async move {
            tracing::debug!(%peer, "wyoming: connected");
            let outcome = Session::new(state, data_dir, peer, refused)
                .run(stream)
                .await;
            match outcome {
                Ok(()) => tracing::debug!(%peer, "wyoming: closed"),
                Err(e) => tracing::info!(%peer, "wyoming: connection closed: {e}"),
            }
            drop(slot);
        });
    }
}

/// A client that sends nothing for this long between events is disconnected.
const IDLE: std::time::Duration = std::time::Duration::from_secs(60);
/// An event, once its first byte is in, must arrive whole within this.
const READ: std::time::Duration = std::time::Duration::from_secs(10);
/// Refusals a client can repeat at will are logged at most once in this.
const REFUSALS_LOGGED_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Loopback only when no networks are listed; otherwise the listed networks only.
fn allowed(networks: &[Network], peer: SocketAddr) -> bool {
    let ip = match peer.ip() {
        std::net::IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(std::net::IpAddr::V6(v6), std::net::IpAddr::V4),
        ip => ip,
    };
    if networks.is_empty() {
        ip.is_loopback()
    } else {
        networks.iter().any(|n| n.contains(ip))
    }
}

/// One connection's state.
struct Session {
    state: ProxyState,
    data_dir: Arc<PathBuf>,
    peer: SocketAddr,
    /// Streaming synthesis: the voice, and the text not yet a whole sentence.
    stream: Option<(Option<Value>, String)>,
    /// Transcription: the language asked for, and the audio so far.
    language: Option<String>,
    audio: Option<Utterance>,
    /// An utterance refused midway: its remaining chunks are dropped until `audio-stop`.
    discarding: bool,
    refused: crate::accept::SharedThrottle,
}

/// Why a session ends.
#[derive(Debug, thiserror::Error)]
enum SessionError {
    #[error("{0}")]
    Read(#[from] event::ReadError),
    #[error("the client left: {0}")]
    Write(#[from] std::io::Error),
    #[error("the client sent nothing for {} s", IDLE.as_secs())]
    Idle,
    #[error("an event took longer than {} s to arrive", READ.as_secs())]
    SlowEvent,
}

impl Session {
    fn new(
        state: ProxyState,
        data_dir: Arc<PathBuf>,
        peer: SocketAddr,
        refused: crate::accept::SharedThrottle,
    ) -> Self {
        Self {
            state,
            data_dir,
            peer,
            stream: None,
            language: None,
            audio: None,
            discarding: false,
            refused,
        }
    }

    async fn run(mut self, stream: TcpStream) -> Result<(), SessionError> {
        use tokio::io::AsyncBufReadExt;
        let _ = stream.set_nodelay(true);
        let (reader, mut writer) = stream.into_split();
        let mut reader = BufReader::new(reader);
        loop {
            // Idle between events; once an event begins, it must arrive whole in time (a
            // client trickling bytes cannot hold its slot).
            match tokio::time::timeout(IDLE, reader.fill_buf()).await {
                Err(_) => return Err(SessionError::Idle),
                Ok(Err(e)) => return Err(SessionError::Read(e.into())),
                Ok(Ok(_)) => {}
            }
            let event = tokio::time::timeout(READ, event::read(&mut reader))
                .await
                .map_err(|_| SessionError::SlowEvent)??;
            let Some(event) = event else {
                return Ok(());
            };
            self.handle(event, &mut writer).await?;
        }
    }

    async fn handle(
        &mut self,
        event: Event,
        out: &mut (impl AsyncWrite + Unpin),
    ) -> Result<(), SessionError> {
        match event.kind.as_str() {
            "describe" => {
                let info = info::info(&self.state, &self.data_dir).await;
                event::write(out, &Event::new("info", info)).await?;
            }
            "synthesize" if self.stream.is_some() => {
                // Sent beside a stream for servers that do not stream: already handled.
            }
            "synthesize" => {
                let text = event.text("text").unwrap_or_default().to_string();
                let voice = event.data.get("voice").cloned();
                tracing::info!(peer = %self.peer, chars = text.chars().count(), "wyoming: synthesize");
                self.synthesize(&text, voice.as_ref(), out).await?;
            }
            "synthesize-start" => {
                self.stream = Some((event.data.get("voice").cloned(), String::new()));
            }
            "synthesize-chunk" => {
                let Some((voice, pending)) = &mut self.stream else {
                    return self
                        .error(out, "synthesize-chunk outside a stream", "protocol")
                        .await;
                };
                pending.push_str(event.text("text").unwrap_or_default());
                let (whole, rest) = split_sentences(pending);
                *pending = rest;
                let voice = voice.clone();
                if !whole.trim().is_empty() {
                    self.synthesize(&whole, voice.as_ref(), out).await?;
                }
            }
            "synthesize-stop" => {
                if let Some((voice, pending)) = self.stream.take()
                    && !pending.trim().is_empty()
                {
                    self.synthesize(&pending, voice.as_ref(), out).await?;
                }
                event::write(out, &Event::new("synthesize-stopped", Value::Null)).await?;
            }
            "transcribe" => {
                self.language = None;
                if let Some(language) = event.text("language") {
                    match crate::transcription::form::check_language(language) {
                        Ok(code) => self.language = Some(code),
                        Err(e) => return self.error(out, e.message(), e.code.as_str()).await,
                    }
                }
            }
            "audio-start" => {
                self.discarding = false;
                self.audio = None;
                self.begin(&event, out).await?;
            }
            "audio-chunk" if self.discarding => {}
            "audio-chunk" => {
                if self.audio.as_ref().is_some_and(|a| a.differs(&event)) {
                    self.audio = None;
                    self.discarding = true;
                    return self
                        .error(
                            out,
                            "the audio's format changed mid-utterance",
                            "unsupported_audio",
                        )
                        .await;
                }
                if self.audio.is_none() && !self.begin(&event, out).await? {
                    return Ok(());
                }
                let pushed = match (&mut self.audio, &event.payload) {
                    (Some(audio), Some(payload)) => audio.push(payload),
                    _ => Ok(()),
                };
                if let Err((text, code)) = pushed {
                    self.audio = None;
                    self.discarding = true;
                    return self.error(out, &text, code).await;
                }
            }
            "audio-stop" => {
                self.discarding = false;
                if let Some(audio) = self.audio.take() {
                    self.transcribe(audio, out).await?;
                }
            }
            "ping" => event::write(out, &Event::new("pong", Value::Null)).await?,
            // Other events (select-program, a satellite's) are not for this server.
            _ => {}
        }
        Ok(())
    }

    /// An utterance in the format `event` declares; false (and an `error` event, and the
    /// rest of the utterance dropped) when Murmur cannot take it.
    async fn begin(
        &mut self,
        event: &Event,
        out: &mut (impl AsyncWrite + Unpin),
    ) -> Result<bool, SessionError> {
        let settings = self.state.live().get().transcription.clone();
        let max_bytes = settings.max_upload_mb.saturating_mul(1024 * 1024);
        match Utterance::start(event, max_bytes, settings.max_audio_secs) {
            Ok(audio) => {
                self.audio = Some(audio);
                Ok(true)
            }
            Err((text, code)) => {
                self.discarding = true;
                self.error(out, &text, code).await?;
                Ok(false)
            }
        }
    }

    /// One line of Activity (and the metrics) for a request: `what` it was, its status, when
    /// it began, when its first audio went out, how many bytes of audio it moved.
    fn finished(
        &self,
        what: &str,
        status: u16,
        started: std::time::Instant,
        first: Option<f64>,
        bytes: u64,
        heard: Option<crate::metrics::Heard>,
    ) {
        let metrics = self.state.metrics();
        let total_ms = started.elapsed().as_secs_f64() * 1000.0;
        metrics.record(what, status, total_ms);
        let at_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
            .saturating_sub(total_ms as u64);
        metrics.finished(crate::metrics::Recent {
            at_ms,
            method: "WYOMING".into(),
            path: what.into(),
            status,
            format: (what == "wyoming synthesize").then_some("pcm"),
            agent: format!("wyoming client {}", self.peer),
            first_byte_ms: first,
            total_ms: (total_ms * 10.0).round() / 10.0,
            bytes,
            complete: true,
            heard,
        });
    }

    async fn error(
        &self,
        out: &mut (impl AsyncWrite + Unpin),
        text: &str,
        code: &str,
    ) -> Result<(), SessionError> {
        if let Some(more) = crate::accept::allow(&self.refused) {
            tracing::info!(peer = %self.peer, code, also_refused = more, "wyoming: {text}");
        }
        event::write(
            out,
            &Event::new("error", json!({"text": text, "code": code})),
        )
        .await?;
        Ok(())
    }

    /// `text` in `voice` (Wyoming's `{name, language, speaker}`), streamed as it is made.
    async fn synthesize(
        &self,
        text: &str,
        voice: Option<&Value>,
        out: &mut (impl AsyncWrite + Unpin),
    ) -> Result<(), SessionError> {
        let started = std::time::Instant::now();
        let what = "wyoming synthesize";
        let name = voice.and_then(|v| v["name"].as_str()).map(String::from);
        let language = voice.and_then(|v| v["language"].as_str()).map(String::from);
        let chosen = match self.voice_for(name, language).await {
            Ok(chosen) => chosen,
            Err((text, code)) => {
                self.finished(what, 400, started, None, 0, None);
                return self.error(out, &text, code).await;
            }
        };
        let mut request = crate::speech_request::SpeechRequest::new(text);
        request.response_format = Some(crate::audio::Format::Pcm);
        request.voice = chosen;
        let response = match crate::proxy::synthesise(&self.state, request).await {
            Ok(response) => response,
            Err(e) => {
                self.finished(what, e.status.as_u16(), started, None, 0, None);
                return self.error(out, e.message(), e.code.as_str()).await;
            }
        };
        let mut first = None;
        let mut sent = 0u64;
        let format = json!({ "rate": RATE, "width": 2, "channels": 1 });
        event::write(out, &Event::new("audio-start", format.clone())).await?;
        let mut body = response.into_body().into_data_stream();
        // Whole samples only; the client leaving drops the body, which stops the engine's
        // work on it.
        let mut carry: Option<u8> = None;
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => return self.error(out, &e.to_string(), "engine_failed").await,
            };
            let mut bytes = Vec::with_capacity(chunk.len() + 1);
            bytes.extend(carry.take());
            bytes.extend_from_slice(&chunk);
            if bytes.len() % 2 == 1 {
                carry = bytes.pop();
            }
            if !bytes.is_empty() {
                first.get_or_insert_with(|| started.elapsed().as_secs_f64() * 1000.0);
                sent += bytes.len() as u64;
                let chunk =
                    Event::new("audio-chunk", format.clone()).with_payload(Bytes::from(bytes));
                event::write(out, &chunk).await?;
            }
        }
        event::write(out, &Event::new("audio-stop", Value::Null)).await?;
        self.finished(what, 200, started, first, sent, None);
        Ok(())
    }

    /// The voice to ask for: the named one if the engine has it, else one that speaks the
    /// language asked for, else the configured one (`None`).
    async fn voice_for(
        &self,
        name: Option<String>,
        language: Option<String>,
    ) -> Result<Option<String>, (String, &'static str)> {
        if name.is_none() && language.is_none() {
            return Ok(None);
        }
        let voices = crate::proxy::installed_voices(&self.state)
            .await
            .map_err(|e| (e.problem.message, "engine_not_ready"))?;
        let Some(voices) = voices else {
            // The engine does not list its voices: pass the name on.
            return Ok(name);
        };
        let ids = || {
            voices
                .iter()
                .map(|v| v.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if let Some(name) = name {
            return if voices.iter().any(|v| v.id == name) {
                Ok(Some(name))
            } else {
                Err((
                    format!("no voice named {name:?}; installed: {}", ids()),
                    "unknown_voice",
                ))
            };
        }
        let wanted = language.unwrap_or_default();
        let primary = crate::language::primary(&wanted).to_ascii_lowercase();
        voices
            .iter()
            .find(|v| {
                v.language.as_deref().is_some_and(|l| {
                    crate::language::primary(&l.replace('_', "-")).eq_ignore_ascii_case(&primary)
                })
            })
            .map(|v| Some(v.id.clone()))
            .ok_or_else(|| {
                (
                    format!("no installed voice speaks {wanted:?}; installed: {}", ids()),
                    "no_voice_for_language",
                )
            })
    }

    /// The audio so far, decoded from its rate, width and channels, transcribed.
    async fn transcribe(
        &mut self,
        audio: Utterance,
        out: &mut (impl AsyncWrite + Unpin),
    ) -> Result<(), SessionError> {
        let started = std::time::Instant::now();
        let what = "wyoming transcribe";
        let bytes = audio.received();
        let language = self.language.take();
        let decoded = match audio.finish() {
            Ok(decoded) => decoded,
            Err(e) => {
                let e = crate::proxy::decode_error(e);
                self.finished(what, e.status.as_u16(), started, None, bytes, None);
                return self.error(out, e.message(), e.code.as_str()).await;
            }
        };
        let seconds = decoded.seconds;
        tracing::info!(peer = %self.peer, seconds, "wyoming: transcribe");
        let heard = Some(crate::metrics::Heard {
            audio_secs: seconds,
            audio_format: "pcm",
        });
        match crate::proxy::transcribe_decoded(&self.state, decoded, language).await {
            Ok(transcript) => {
                let text = transcript.text();
                let mut data = json!({ "text": text });
                if !transcript.language.is_empty() {
                    data["language"] = transcript.language.clone().into();
                }
                event::write(out, &Event::new("transcript", data)).await?;
                self.finished(what, 200, started, None, bytes, heard);
                Ok(())
            }
            Err(e) => {
                self.finished(what, e.status.as_u16(), started, None, bytes, heard);
                self.error(out, e.message(), e.code.as_str()).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_networks_or_loopback_connect() {
        let peer = |ip: &str| SocketAddr::new(ip.parse().expect("ip"), 5000);
        assert!(allowed(&[], peer("127.0.0.1")));
        assert!(allowed(&[], peer("::1")));
        assert!(!allowed(&[], peer("192.168.1.5")));
        let lan = [Network::parse("192.168.1.0/24").expect("net")];
        assert!(allowed(&lan, peer("192.168.1.5")));
        assert!(!allowed(&lan, peer("127.0.0.1")));
        let one = [Network::parse("127.0.0.1/32").expect("net")];
        assert!(!allowed(&one, peer("127.0.0.2")));
    }
}
