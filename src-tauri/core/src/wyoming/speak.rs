//! Synthesis for a Wyoming client: the voice it asks for (by name or language) found among
//! the engine's, the speech made through the proxy's path, streamed back as PCM chunks.

use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::Value;

use super::message::Outgoing;
use super::session::{Out, Session, SessionError};

/// The rate, width and channels of the PCM Murmur sends (OpenAI's `pcm`).
const RATE: u32 = crate::audio::OUTPUT_RATE;

impl Session {
    /// `text` in `voice` (Wyoming's `{name, language, speaker}`), streamed as it is made.
    pub(super) async fn synthesize(
        &self,
        text: &str,
        voice: Option<&Value>,
        out: Out<'_>,
    ) -> Result<(), SessionError> {
        let measured = self.request("wyoming synthesize");
        let name = voice.and_then(|v| v["name"].as_str()).map(String::from);
        let language = voice.and_then(|v| v["language"].as_str()).map(String::from);
        let chosen = match self.voice_for(name, language).await {
            Ok(chosen) => chosen,
            Err((text, code)) => {
                measured.finished(400, None, 0, None);
                return self.error(out, &text, code).await;
            }
        };
        let mut request = crate::speech_request::SpeechRequest::new(text);
        request.response_format = Some(crate::audio::Format::Pcm);
        request.voice = chosen;
        let response = match crate::proxy::synthesise(&self.state, request).await {
            Ok(response) => response,
            Err(e) => {
                measured.finished(e.status.as_u16(), None, 0, None);
                return self.error(out, e.message(), e.code.as_str()).await;
            }
        };
        let mut first = None;
        let mut sent = 0u64;
        self.send(out, Outgoing::AudioStart { rate: RATE }).await?;
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
                first.get_or_insert_with(|| measured.started.elapsed().as_secs_f64() * 1000.0);
                sent += bytes.len() as u64;
                let chunk = Outgoing::AudioChunk {
                    rate: RATE,
                    pcm: Bytes::from(bytes),
                };
                self.send(out, chunk).await?;
            }
        }
        self.send(out, Outgoing::AudioStop).await?;
        measured.finished(200, first, sent, None);
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
}
