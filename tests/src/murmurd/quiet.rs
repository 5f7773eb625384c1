//! `murmurd` for the benchmarks: quiet, killed on drop.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{binary, source_tree};

/// A `murmurd` for a benchmark: quiet (warnings only), killed on drop.
pub struct Quiet {
    pub child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// From spawn to the listening line.
    pub listening_after: Duration,
}

impl Quiet {
    /// `murmurd --data-dir DIR --port 0 ARGS…`, once it listens.
    pub fn spawn(data_dir: &Path, args: &[&str]) -> anyhow::Result<Self> {
        Self::spawn_binary(&binary(), data_dir, args)
    }

    /// The same, from another build of `murmurd` (a benchmark's baseline).
    pub fn spawn_binary(binary: &Path, data_dir: &Path, args: &[&str]) -> anyhow::Result<Self> {
        let spawned = Instant::now();
        let child = Command::new(binary)
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--port", "0"])
            .args(args)
            .env("MURMUR_LOG", "warn")
            .env("MURMUR_RESOURCES", source_tree())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let mut quiet = Self {
            child,
            base: String::new(),
            listening_after: Duration::ZERO,
        };
        let stdout = quiet
            .child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        quiet.listening_after = spawned.elapsed();
        quiet.base = line
            .trim()
            .strip_prefix("Murmur listening on ")
            .ok_or_else(|| anyhow::anyhow!("murmurd did not start: {line:?}"))?
            .trim_end_matches("/v1")
            .to_string();
        Ok(quiet)
    }
}

impl Drop for Quiet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
