//! What the page's Test speech, Record and Transcribe a file ask: speech and transcripts
//! through the same paths a client's request takes.

use axum::response::Response;

use super::Control;
use crate::api_error::ApiError;
use crate::speech_request::SpeechRequest;

/// A test phrase, as the page's Play button or the tray's "Test speech" asks for it.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct SpeakTest {
    pub text: Option<String>,
    pub voice: Option<String>,
    pub speed: Option<f64>,
}

/// The phrase when none is given.
pub const TEST_PHRASE: &str = "Hello from Murmur. Your speech server is working.";

impl Control {
    /// Speech for a test phrase, as WAV, through the same path a client's request takes.
    pub async fn speak_test(&self, test: SpeakTest) -> Result<Response, ApiError> {
        let text = test
            .text
            .as_deref()
            .filter(|t| !t.trim().is_empty())
            .unwrap_or(TEST_PHRASE);
        let mut speech = SpeechRequest::new(text);
        speech.response_format = Some(crate::audio::Format::Wav);
        speech.voice = test.voice;
        speech.speed = test.speed;
        self.0.speaker.speak(speech).await
    }

    /// Transcribe the upload `request` carries (OpenAI's transcription form, asking for
    /// `verbose_json`) as `/v1/audio/transcriptions` would; a success answers with the
    /// transcript and what the page shows beside it (the engine's time, the audio's format).
    pub async fn transcribe_test(&self, request: axum::extract::Request) -> Response {
        use axum::response::IntoResponse;
        use http_body_util::BodyExt;
        let response = self.0.speaker.transcribe(request).await;
        if !response.status().is_success() {
            return response;
        }
        let transcribed = response
            .extensions()
            .get::<crate::metrics::TranscribedAudio>()
            .copied();
        let engine_ms = response
            .headers()
            .get(crate::proxy::ENGINE_MS_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<f64>().ok());
        let body = match response.into_body().collect().await {
            Ok(body) => body.to_bytes(),
            Err(e) => {
                return ApiError::unreachable(format!("the transcript ended early: {e}"))
                    .into_response();
            }
        };
        let transcript = serde_json::from_slice::<serde_json::Value>(&body)
            .unwrap_or_else(|_| serde_json::json!({ "text": String::from_utf8_lossy(&body) }));
        axum::Json(serde_json::json!({
            "transcript": transcript,
            "engine_ms": engine_ms,
            "audio_format": transcribed.map(|h| h.audio_format),
            "audio_secs": transcribed.map(|h| h.audio_secs),
        }))
        .into_response()
    }

    /// [`Self::speak_test`], read whole: the audio and its content type.
    pub async fn speak_test_bytes(
        &self,
        test: SpeakTest,
    ) -> Result<(bytes::Bytes, Option<String>), ApiError> {
        use http_body_util::BodyExt;
        let response = self.speak_test(test).await?;
        let content_type = response
            .headers()
            .get(::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| ApiError::unreachable(format!("the audio ended early: {e}")))?;
        Ok((body.to_bytes(), content_type))
    }
}
