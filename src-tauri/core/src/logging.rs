//! Logging for the binaries: human-readable lines to stderr and to a daily-rotated file.
//! `MURMUR_LOG` takes a tracing filter (`debug`, `murmur_core=trace`, …); the default is `info`.

use std::io::IsTerminal;
use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{Builder, Rotation};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::env;

/// Install the global subscriber. Keep the guard alive: dropping it flushes the file.
/// When the log folder cannot be created, logs go to stderr only and the reason is returned.
pub fn init(log_dir: &Path, file_prefix: &str) -> (Option<WorkerGuard>, Option<String>) {
    let filter = EnvFilter::try_from_env(env::LOG).unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::stderr().is_terminal();
    let stderr = tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let appender = fs_err::create_dir_all(log_dir)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            Builder::new()
                .rotation(Rotation::DAILY)
                .filename_prefix(file_prefix)
                .filename_suffix("log")
                .max_log_files(7)
                .build(log_dir)
                .map_err(|e| format!("cannot log to {}: {e}", log_dir.display()))
        });
    match appender {
        Ok(appender) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let file = tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(writer);
            tracing_subscriber::registry()
                .with(filter)
                .with(stderr)
                .with(file)
                .init();
            (Some(guard), None)
        }
        Err(why) => {
            tracing_subscriber::registry()
                .with(filter)
                .with(stderr)
                .init();
            (None, Some(why))
        }
    }
}
