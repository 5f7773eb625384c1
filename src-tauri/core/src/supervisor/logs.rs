//! The engine's output: appended to `<log-dir>/engine.log` (rotated by size, 5 files kept) and
//! kept in memory as the last 200 lines for the UI and for error messages.

use std::collections::VecDeque;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

const MAX_BYTES: u64 = 5 * 1024 * 1024;
const KEEP_FILES: usize = 5;
const RING_LINES: usize = 200;

/// Shared by the output readers and the supervisor. Cheap to clone.
#[derive(Clone)]
pub struct EngineLog {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    path: PathBuf,
    file: Option<std::fs::File>,
    size: u64,
    ring: VecDeque<String>,
}

impl EngineLog {
    /// `<log_dir>/<stem>.log` (`engine`, `transcription`).
    pub fn open(log_dir: &std::path::Path, stem: &str) -> Self {
        let path = log_dir.join(format!("{stem}.log"));
        let _ = fs_err::create_dir_all(log_dir);
        let file = open_append(&path);
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        Self {
            inner: Arc::new(Mutex::new(Inner {
                path,
                file,
                size,
                ring: VecDeque::with_capacity(RING_LINES),
            })),
        }
    }

    /// Append one line.
    pub fn line(&self, line: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.size > MAX_BYTES {
            inner.rotate();
        }
        if let Some(file) = inner.file.as_mut()
            && writeln!(file, "{line}").is_ok()
        {
            inner.size += line.len() as u64 + 1;
        }
        if inner.ring.len() == RING_LINES {
            inner.ring.pop_front();
        }
        inner.ring.push_back(line.to_string());
    }

    /// The last `n` lines kept in memory, oldest first.
    pub fn tail(&self, n: usize) -> Vec<String> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let skip = inner.ring.len().saturating_sub(n);
        inner.ring.iter().skip(skip).cloned().collect()
    }
}

impl Inner {
    fn rotate(&mut self) {
        self.file = None;
        for i in (1..KEEP_FILES).rev() {
            let from = numbered(&self.path, i - 1);
            let _ = std::fs::rename(&from, numbered(&self.path, i));
        }
        self.file = open_append(&self.path);
        self.size = 0;
    }
}

fn numbered(path: &std::path::Path, i: usize) -> PathBuf {
    if i == 0 {
        path.to_path_buf()
    } else {
        let mut name = path.as_os_str().to_os_string();
        name.push(format!(".{i}"));
        PathBuf::from(name)
    }
}

fn open_append(path: &std::path::Path) -> Option<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_lines_and_rotates_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = EngineLog::open(dir.path(), "engine");
        let long = "x".repeat(1024 * 1024);
        for i in 0..30 {
            log.line(&format!("{i} {long}"));
        }
        log.line("last");
        assert_eq!(log.tail(1), ["last"]);
        assert_eq!(log.tail(1000).len(), 31);
        let files = std::fs::read_dir(dir.path()).expect("list").count();
        assert_eq!(files, KEEP_FILES, "engine.log and 4 older ones");
    }
}
