//! `<data-dir>/engine.pid`: which engine process Murmur started, so that an engine left behind
//! by a Murmur that died (SIGKILL, power loss, a crash) is stopped at the next start.
//!
//! A recorded process is signalled only after checking it is still the one Murmur started:
//! same pid, same start time, same command line. A pid reused by somebody else's program fails
//! the check and is left alone. When the recorded leader is gone, its process group may still
//! hold our engine's children; the kernel does not hand out a pid that is still in use as a
//! group id, so signalling that group reaches only them.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};

use super::process::{Signal, signal_group};

/// What identifies one engine process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub pid: u32,
    /// Seconds since the epoch, as the OS reports it.
    pub start_time: u64,
    pub cmdline: Vec<String>,
}

impl Record {
    /// The record of the live process `pid`, if it exists: one process's /proc files, read by
    /// the actor as it starts or reaps an engine.
    #[allow(clippy::disallowed_methods)]
    pub fn of(pid: u32) -> Option<Self> {
        let mut sys = System::new();
        let target = Pid::from_u32(pid);
        sys.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[target]),
            true,
            ProcessRefreshKind::nothing().with_cmd(UpdateKind::Always),
        );
        // A zombie has exited: it holds a pid but no command line, and is not a running engine.
        let process = sys
            .process(target)
            .filter(|p| p.status() != sysinfo::ProcessStatus::Zombie)?;
        Some(Self {
            pid,
            start_time: process.start_time(),
            cmdline: process
                .cmd()
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
        })
    }
}

/// Record `pid` as the running engine.
pub fn write(path: &Path, pid: u32) -> std::io::Result<()> {
    let record =
        Record::of(pid).ok_or_else(|| std::io::Error::other(format!("process {pid} is gone")))?;
    let text = serde_json::to_string(&record).map_err(std::io::Error::other)?;
    // A temporary file of its own (two Murmurs starting at once never share one), renamed
    // over the pidfile.
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut file = tempfile::Builder::new()
        .prefix(".engine.pid.")
        .tempfile_in(dir)?;
    std::io::Write::write_all(&mut file, text.as_bytes())?;
    file.persist(path).map(drop).map_err(|e| e.error)
}

/// Forget the engine (it exited or was stopped).
pub fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
}

/// What happened to a recorded engine at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reaped {
    /// No pidfile.
    Nothing,
    /// The recorded engine (or what was left of its group) was killed.
    Stale(u32),
    /// The pid now belongs to another program, which was left alone.
    Foreign(u32),
}

/// Stop an engine left behind by an earlier run, if it is verifiably ours.
pub fn reap(path: &Path) -> Reaped {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Reaped::Nothing;
    };
    remove(path);
    let Ok(recorded) = serde_json::from_str::<Record>(&text) else {
        tracing::warn!(path = %path.display(), "ignoring an unreadable engine pidfile");
        return Reaped::Nothing;
    };
    match Record::of(recorded.pid) {
        Some(live) if live == recorded => {
            tracing::warn!(
                pid = recorded.pid,
                "stopping an engine left behind by an earlier run"
            );
            signal_group(recorded.pid, Signal::Kill);
            Reaped::Stale(recorded.pid)
        }
        Some(_) => {
            tracing::info!(
                pid = recorded.pid,
                "the recorded engine pid now belongs to another program; leaving it alone"
            );
            Reaped::Foreign(recorded.pid)
        }
        None => {
            // The leader is gone; its group may still hold children of ours.
            if signal_group(recorded.pid, Signal::Kill) {
                tracing::warn!(
                    pgid = recorded.pid,
                    "stopped processes left behind by an earlier engine"
                );
                Reaped::Stale(recorded.pid)
            } else {
                Reaped::Nothing
            }
        }
    }
}
