//! The engine's Python runtime, provisioned with uv.
//!
//! # Theory of operation
//!
//! An engine that runs in Python ships a uv project (`pyproject.toml` + `uv.lock`). Before the
//! engine starts, [`provision`] makes `<data-dir>/runtimes/<name>/.venv` match that project:
//!
//! 1. **Fast path**: a stamp written after the last good sync hashes the project files, the
//!    launcher, the requested interpreter and the venv's `pyvenv.cfg`. If it matches and the
//!    venv's python exists, uv is not run at all (the warm start costs a few file reads).
//! 2. Otherwise uv is found ([`uv::find`]) or downloaded from PyPI ([`download`]), and
//!    `uv sync --frozen` builds a **new** venv beside the old one (`.venv-next`). Only a
//!    successful sync is swapped in; a failed one is deleted and the previous venv, if any,
//!    stays in use. A managed Python is preferred; when it cannot be had (offline), a
//!    compatible system interpreter is used and the runtime says so.
//! 3. A file lock serialises provisioning of one runtime across threads and processes.
//!
//! The engine is launched as `python -m murmur_launch <module> …`: the launcher (shipped
//! here) exits, taking its process group with it, when its stdin closes — that is, when
//! Murmur is gone, on every OS.

pub mod assets;
pub mod bundled;
pub mod download;
pub mod fetch;
pub mod hub;
mod progress;
mod sync;
pub mod uv;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use progress::parse_uv_line;
pub use sync::{LAUNCHER, Provision, provision};

use crate::problem::Stage;
use crate::status::Warmup;

/// A ready runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runtime {
    /// The venv's interpreter.
    pub python: PathBuf,
    /// The runtime folder: holds the launcher, goes on `PYTHONPATH`.
    pub dir: PathBuf,
    /// uv was not run: the stamp matched.
    pub fast_path: bool,
    /// Something the user should know (a system interpreter, an update that failed).
    pub note: Option<String>,
}

/// Where warm-up progress goes (the supervisor turns it into status). Byte counts are
/// coalesced: a download reports once per percent or 100 ms, not once per network chunk.
#[derive(Clone)]
pub struct Progress {
    report: Arc<dyn Fn(Warmup) + Send + Sync>,
    last_bytes: Arc<std::sync::Mutex<Option<(u64, std::time::Instant)>>>,
}

impl Progress {
    pub fn new(report: impl Fn(Warmup) + Send + Sync + 'static) -> Self {
        Self {
            report: Arc::new(report),
            last_bytes: Arc::default(),
        }
    }

    /// Progress nobody watches.
    pub fn none() -> Self {
        Self::new(|_| {})
    }

    pub fn report(&self, warmup: Warmup) {
        (self.report)(warmup);
    }

    pub fn stage(&self, stage: Stage, message: impl Into<String>) {
        self.report(Warmup {
            stage: Some(stage),
            message: Some(message.into()),
            ..Warmup::default()
        });
    }

    pub fn bytes(&self, stage: Stage, message: &str, done: u64, total: Option<u64>) {
        {
            let mut last = self
                .last_bytes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = std::time::Instant::now();
            let step = total.map_or(1 << 20, |t| (t / 100).max(1));
            let due = match *last {
                None => true,
                Some((before, at)) => {
                    done < before
                        || done.abs_diff(before) >= step
                        || now.duration_since(at) >= std::time::Duration::from_millis(100)
                        || Some(done) == total
                }
            };
            if !due {
                return;
            }
            *last = Some((done, now));
        }
        self.report(Warmup {
            stage: Some(stage),
            done: Some(done),
            total,
            unit: Some(crate::status::Unit::Bytes),
            message: Some(message.into()),
        });
    }
}

/// Why a runtime could not be provisioned. Each says what to do about it ([`Self::hint`]).
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot download uv: {message}")]
    Download { message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("uv sync failed ({status}){}", tail_text(.stderr_tail))]
    Sync {
        status: String,
        stderr_tail: Vec<String>,
    },
    #[error("cannot run uv at {path}: {source}")]
    RunUv {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("[runtime] uv_path {0} does not exist")]
    MissingUv(PathBuf),
    #[error("no Python project at {0} (pyproject.toml and uv.lock)")]
    NoProject(PathBuf),
}

fn tail_text(lines: &[String]) -> String {
    if lines.is_empty() {
        String::new()
    } else {
        format!(": {}", lines.join("\n"))
    }
}

impl RuntimeError {
    pub(crate) fn download(message: impl Into<String>) -> Self {
        Self::Download {
            message: message.into(),
        }
    }

    /// What the user can do.
    pub fn hint(&self) -> String {
        match self {
            Self::Download { .. } => {
                "check the network, or set [runtime] uv_path to a uv you installed, \
                                      or [runtime] pypi_url to a PyPI mirror"
                    .into()
            }
            Self::Io { path, .. } => format!(
                "check free disk space and permissions of {}",
                path.display()
            ),
            Self::Sync { .. } => {
                "see the engine log for uv's full output; offline, a previously built \
                                  environment is used when there is one"
                    .into()
            }
            Self::RunUv { .. } | Self::MissingUv(_) => {
                "set [runtime] uv_path to a working uv, or remove it \
                                                        to let Murmur download one"
                    .into()
            }
            Self::NoProject(_) => "reinstall Murmur, or fix [engine.custom] python_project".into(),
        }
    }
}

/// `<data-dir>/runtimes/<name>`
pub fn runtime_dir(data_dir: &Path, name: &str) -> PathBuf {
    data_dir.join("runtimes").join(name)
}

#[cfg(test)]
mod coalescing {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn byte_progress_is_reported_per_percent_not_per_chunk_and_always_ends_whole() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let progress = Progress::new(move |w: Warmup| {
            sink.lock().expect("lock").push(w.done.unwrap_or_default());
        });
        let total = 10_000 * 1024;
        for chunk in 1..=10_000u64 {
            progress.bytes(Stage::Model, "downloading", chunk * 1024, Some(total));
        }
        let seen = seen.lock().expect("lock");
        assert!(
            (100..=400).contains(&seen.len()),
            "{} reports for 10,000 chunks",
            seen.len()
        );
        assert_eq!(seen.last(), Some(&total));
        assert!(seen.windows(2).all(|w| w[0] <= w[1]));
    }
}
