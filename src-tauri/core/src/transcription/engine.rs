//! Asking the transcription engine: 16 kHz PCM in, a stream of [`EngineLine`]s out.

use std::time::Duration;

use axum::body::Body;
use bytes::BytesMut;
use futures_util::stream::{BoxStream, StreamExt};
use http_body_util::BodyExt;

use super::decode::RATE;
use super::transcript::{EngineLine, Task};
use crate::api_error::ApiError;
use crate::backend::Upstream;
use crate::engine::whisper::TRANSCRIBE_PATH;
use crate::http_client::{HttpClient, describe};

/// What the engine is asked besides the audio (its query string).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Options {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<Task>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Word timestamps.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub words: bool,
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
    let query = serde_urlencoded::to_string(options)
        .map_err(|e| ApiError::bad_gateway("engine_request", e.to_string()))?;
    let url = format!("{}{TRANSCRIBE_PATH}?{query}", upstream.base_url());
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
            Some(Ok(chunk)) => buffer.extend_from_slice(&chunk),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_a_query_string_with_only_what_is_set() {
        let options = Options {
            task: Some(Task::Translate),
            prompt: Some("names: Ana & Bo".into()),
            words: true,
            ..Options::default()
        };
        assert_eq!(
            serde_urlencoded::to_string(&options).expect("encodes"),
            "task=translate&prompt=names%3A+Ana+%26+Bo&words=true"
        );
        assert_eq!(
            serde_urlencoded::to_string(Options::default()).expect("encodes"),
            ""
        );
    }
}
