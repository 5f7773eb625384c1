//! Fetching an engine's model before it starts, with byte progress for the status
//! ("downloading model 120/345 MB" rather than a silent ten-minute wait).
//!
//! The work is done by `murmur_fetch_model.py`, shipped with the engine's Python project and
//! run with its runtime; it prints one JSON object per line, parsed here.

use std::path::Path;
use std::process::Stdio;

use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::problem::{Problem, Stage};
use crate::runtime::Progress;
use crate::status::Warmup;

/// One line of the fetcher's output.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Line {
    Progress { done: u64, total: u64 },
    Ready { ready: String },
    Error { error: String, offline: bool },
}

/// Parse one line; anything else (a warning from a library) is `None`.
pub fn parse(line: &str) -> Option<Line> {
    serde_json::from_str(line.trim()).ok()
}

/// The warm-up shown for a progress line.
pub fn warmup(model: &str, done: u64, total: u64) -> Warmup {
    let done = if total > 0 { done.min(total) } else { done };
    let mb = |bytes: u64| bytes / 1_000_000;
    let message = if total > 0 {
        format!("downloading model {} {}/{} MB", model, mb(done), mb(total))
    } else {
        format!("downloading model {} {} MB", model, mb(done))
    };
    Warmup {
        stage: Some(Stage::Model),
        done: Some(done),
        total: (total > 0).then_some(total),
        unit: Some(crate::status::Unit::Bytes),
        message: Some(message),
    }
}

fn failure(model: &str, error: &str, offline: bool) -> Problem {
    if offline {
        Problem::new(format!(
            "the model {model} could not be downloaded (offline?): {error}"
        ))
        .hint("connect to the internet once, or set [engine] model to a local model folder")
    } else {
        Problem::new(format!("the model {model} could not be fetched: {error}"))
            .hint("check the model name in [engine] model, or use a local model folder")
    }
}

/// Run `python -m murmur_fetch_model <model>` with `python_path`, reporting progress.
pub async fn fetch(
    python: &Path,
    python_path: &str,
    env: &[(String, String)],
    model: &str,
    progress: &Progress,
    log: &(dyn Fn(&str) + Send + Sync),
) -> Result<(), Problem> {
    progress.report(Warmup {
        stage: Some(Stage::Model),
        message: Some(format!("checking model {model}")),
        ..Warmup::default()
    });
    let mut child = tokio::process::Command::new(python)
        .args(["-m", "murmur_fetch_model", model])
        .env("PYTHONPATH", python_path)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            failure(
                model,
                &format!("cannot run {}: {e}", python.display()),
                false,
            )
        })?;
    let mut outcome = Err(failure(model, "the fetcher ended without a word", false));
    if let Some(stdout) = child.stdout.take() {
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            match parse(&line) {
                Some(Line::Progress { done, total }) => progress.report(warmup(model, done, total)),
                Some(Line::Ready { ready }) => {
                    log(&format!("[murmur] model {model} is at {ready}"));
                    outcome = Ok(());
                }
                Some(Line::Error { error, offline }) => {
                    outcome = Err(failure(model, &error, offline))
                }
                None => log(&format!("[model] {line}")),
            }
        }
    }
    let _ = child.wait().await;
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse() {
        assert_eq!(
            parse(r#"{"done": 5, "total": 10}"#),
            Some(Line::Progress { done: 5, total: 10 })
        );
        assert_eq!(
            parse(r#"{"ready": "/m"}"#),
            Some(Line::Ready { ready: "/m".into() })
        );
        assert_eq!(
            parse(r#"{"error": "x", "offline": true}"#),
            Some(Line::Error {
                error: "x".into(),
                offline: true
            })
        );
        assert_eq!(parse("Fetching 12 files"), None);
    }

    #[test]
    fn progress_reads_in_megabytes() {
        let w = warmup("kokoro", 120_000_000, 345_000_000);
        assert_eq!(
            w.message.as_deref(),
            Some("downloading model kokoro 120/345 MB")
        );
        assert_eq!(
            (w.done, w.total, w.unit),
            (
                Some(120_000_000),
                Some(345_000_000),
                Some(crate::status::Unit::Bytes)
            )
        );
    }

    #[test]
    fn offline_errors_say_how_to_use_a_local_model() {
        let e = failure("m", "ConnectionError", true);
        assert!(
            e.message.contains("offline")
                && e.hint
                    .as_deref()
                    .is_some_and(|h| h.contains("local model folder"))
        );
    }

    #[tokio::test]
    async fn a_fetcher_process_reports_progress_and_its_outcome() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("murmur_fetch_model.py"),
            "import json,sys\nfor d in (100, 200):\n    print(json.dumps({'done': d, 'total': 200}), flush=True)\n\
             print('a library warning')\n\
             print(json.dumps({'ready': '/models/' + sys.argv[1]} if sys.argv[1] != 'gone' else {'error': 'ConnectionError', 'offline': True}))\n",
        )
        .expect("write");
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = seen.clone();
        let progress = Progress::new(move |w| sink.lock().expect("lock").push(w));
        let path = dir.path().to_string_lossy().into_owned();
        let python = Path::new("python3");
        fetch(python, &path, &[], "kokoro", &progress, &|_| {})
            .await
            .expect("ready");
        let messages: Vec<_> = seen
            .lock()
            .expect("lock")
            .iter()
            .filter_map(|w| w.done)
            .collect();
        assert_eq!(messages, [100, 200]);
        let err = fetch(python, &path, &[], "gone", &progress, &|_| {})
            .await
            .expect_err("offline");
        assert!(
            err.hint
                .as_deref()
                .is_some_and(|h| h.contains("local model folder")),
            "{err:?}"
        );
    }
}
