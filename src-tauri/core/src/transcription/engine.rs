//! Asking the transcription engine: 16 kHz PCM in, a stream of [`EngineLine`]s out.

use std::time::Duration;

use axum::body::Body;
use bytes::{Buf, BytesMut};
use futures_util::stream::{BoxStream, StreamExt};
use http_body_util::BodyExt;

use super::decode::RATE;
use super::transcript::{EngineLine, Task};
use crate::api_error::ApiError;
use crate::backend::Upstream;
use crate::engine::whisper::TRANSCRIBE_PATH;
use crate::http_client::{HttpClient, describe};

/// What the engine is asked besides the audio.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Options {
    pub task: Option<Task>,
    pub language: Option<String>,
    pub prompt: Option<String>,
    pub temperature: Option<f64>,
    pub words: bool,
}

impl Options {
    fn query(&self) -> String {
        let mut query = url_pairs(&[
            ("task", self.task.map(Task::as_str).map(String::from)),
            ("language", self.language.clone()),
            ("prompt", self.prompt.clone()),
            ("temperature", self.temperature.map(|t| t.to_string())),
            ("words", self.words.then(|| "1".to_string())),
        ]);
        if !query.is_empty() {
            query.insert(0, '?');
        }
        query
    }
}

fn url_pairs(pairs: &[(&str, Option<String>)]) -> String {
    pairs
        .iter()
        .filter_map(|(key, value)| value.as_ref().map(|v| format!("{key}={}", escape(v))))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encode everything but unreserved characters.
fn escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// A line longer than this is not the engine's.
const MAX_LINE: usize = 4 * 1024 * 1024;

/// Send `pcm` to the engine at `upstream`; its lines as they come. A 4xx from the engine (a
/// language the model lacks) is the client's error; anything else is the engine's.
pub async fn transcribe(
    client: &HttpClient,
    upstream: &Upstream,
    pcm: Vec<u8>,
    options: &Options,
    timeout: Duration,
) -> Result<BoxStream<'static, Result<EngineLine, String>>, ApiError> {
    let url = format!(
        "{}{TRANSCRIBE_PATH}{}",
        upstream.base_url(),
        options.query()
    );
    let request = http::Request::post(&url)
        .header(http::header::CONTENT_TYPE, "audio/pcm")
        .header("x-audio-sample-rate", RATE.to_string())
        .body(Body::from(pcm))
        .map_err(|e| ApiError::bad_gateway("engine_request", e.to_string()))?;
    let response = tokio::time::timeout(timeout, client.request(request))
        .await
        .map_err(|_| ApiError::timeout(timeout))?
        .map_err(|e| ApiError::unreachable(describe(&e)))?;
    let status = response.status();
    if !status.is_success() {
        let body = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(String::from))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_string());
        return Err(if status.is_client_error() {
            ApiError::bad_request("unsupported_option", message)
        } else {
            ApiError::bad_gateway(
                "engine_failed",
                format!("the transcription engine answered {status}: {message}"),
            )
        });
    }
    let body = response.into_body().into_data_stream();
    Ok(futures_util::stream::unfold(Some((body, BytesMut::new())), next_line).boxed())
}

type Reading = (
    http_body_util::BodyDataStream<hyper::body::Incoming>,
    BytesMut,
);

/// The next line of the engine's answer, and what is left to read (`None` after an error).
async fn next_line(
    state: Option<Reading>,
) -> Option<(Result<EngineLine, String>, Option<Reading>)> {
    let (mut body, mut buffer) = state?;
    loop {
        if let Some(at) = buffer.iter().position(|b| *b == b'\n') {
            let line = buffer.split_to(at + 1);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let parsed = serde_json::from_slice::<EngineLine>(&line[..at])
                .map_err(|e| format!("the engine sent a line Murmur cannot read: {e}"));
            return Some((parsed, Some((body, buffer))));
        }
        if buffer.len() > MAX_LINE {
            return Some((Err("the engine sent an overlong line".into()), None));
        }
        match body.next().await {
            Some(Ok(chunk)) => buffer.extend_from_slice(chunk.chunk()),
            Some(Err(e)) => {
                return Some((
                    Err(format!("the engine's answer broke off: {}", describe(&e))),
                    None,
                ));
            }
            None if buffer.iter().all(u8::is_ascii_whitespace) => return None,
            None => {
                let parsed = serde_json::from_slice::<EngineLine>(&buffer)
                    .map_err(|e| format!("the engine's answer ended mid-line: {e}"));
                return Some((parsed, None));
            }
        }
    }
}
