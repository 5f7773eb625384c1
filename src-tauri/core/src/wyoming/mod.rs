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
use audio::{Utterance, split_sentences, utterance, wav_file};
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
    let slots = Arc::new(tokio::sync::Semaphore::new(
        settings.max_connections as usize,
    ));
    let data_dir = Arc::new(data_dir);
    // Announced on the LAN only when it listens beyond loopback (kept until this returns).
    let _announced = match listener.local_addr() {
        Ok(addr) => zeroconf::announce(addr),
        Err(_) => None,
    };
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!("wyoming: accept failed: {e}");
                    continue;
                }
            },
        };
        if !allowed(&networks, peer) {
            tracing::warn!(%peer, "wyoming: refused a connection from outside the allowed networks");
            continue;
        }
        let (state, slots, data_dir) = (state.clone(), slots.clone(), data_dir.clone());
        tokio::spawn(async move {
            let Ok(_slot) = slots.acquire_owned().await else {
                return;
            };
            tracing::debug!(%peer, "wyoming: connected");
            let outcome = Session::new(state, data_dir, peer).run(stream).await;
            match outcome {
                Ok(()) => tracing::debug!(%peer, "wyoming: closed"),
                Err(e) => tracing::warn!(%peer, "wyoming: connection closed: {e}"),
            }
        });
    }
}

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
}

/// Why a session ends.
#[derive(Debug, thiserror::Error)]
enum SessionError {
    #[error("{0}")]
    Read(#[from] event::ReadError),
    #[error("the client left: {0}")]
    Write(#[from] std::io::Error),
}

impl Session {
    fn new(state: ProxyState, data_dir: Arc<PathBuf>, peer: SocketAddr) -> Self {
        Self {
            state,
            data_dir,
            peer,
            stream: None,
            language: None,
            audio: None,
        }
    }

    async fn run(mut self, stream: TcpStream) -> Result<(), SessionError> {
        let _ = stream.set_nodelay(true);
        let (reader, mut writer) = stream.into_split();
        let mut reader = BufReader::new(reader);
        while let Some(event) = event::read(&mut reader).await? {
            self.handle(event, &mut writer).await?;
        }
        Ok(())
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
                self.language = event.text("language").map(String::from);
            }
            "audio-start" => {
                self.audio = Some(utterance(&event));
            }
            "audio-chunk" => {
                let audio = self.audio.get_or_insert_with(|| utterance(&event));
                if let Some(payload) = &event.payload {
                    audio.pcm.extend_from_slice(payload);
                }
                let limit = self.state.live().get().transcription.max_audio_secs
                    * u64::from(audio.rate)
                    * u64::from(audio.width)
                    * u64::from(audio.channels);
                if audio.pcm.len() as u64 > limit {
                    self.audio = None;
                    return self
                        .error(
                            out,
                            "the audio is longer than [transcription] max_audio_secs",
                            "audio_too_long",
                        )
                        .await;
                }
            }
            "audio-stop" => {
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
        tracing::info!(peer = %self.peer, code, "wyoming: {text}");
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
        let bytes = audio.pcm.len() as u64;
        let language = self.language.take();
        let max_secs = self.state.live().get().transcription.max_audio_secs;
        let seconds = audio.pcm.len() as f64
            / f64::from(audio.rate.max(1))
            / f64::from(audio.width.max(1) * audio.channels.max(1));
        tracing::info!(peer = %self.peer, seconds, rate = audio.rate, "wyoming: transcribe");
        let heard = Some(crate::metrics::Heard {
            audio_secs: seconds,
            audio_format: "pcm",
        });
        let wav = Bytes::from(wav_file(&audio));
        let decoded = tokio::task::spawn_blocking(move || {
            crate::transcription::decode::decode(wav, max_secs)
        })
        .await
        .map_err(std::io::Error::other)?;
        let decoded = match decoded {
            Ok(decoded) => decoded,
            Err(e) => {
                let e = crate::proxy::decode_error(e);
                self.finished(what, e.status.as_u16(), started, None, bytes, heard);
                return self.error(out, e.message(), e.code.as_str()).await;
            }
        };
        match crate::proxy::transcribe_decoded(&self.state, &decoded, language).await {
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
