//! Starting and signalling the engine process.
//!
//! The engine runs in its own process group, so a stop reaches everything it started
//! (workers, grandchildren). On Linux it also gets a parent-death signal, so it dies with
//! Murmur even when Murmur is killed with SIGKILL. The `unsafe` for that lives in
//! [`platform`], and nowhere else.

use std::process::Stdio;

use tokio::process::{Child, Command};

use crate::engine::Launch;

/// A spawned engine.
pub struct Spawned {
    pub child: Child,
    pub pid: u32,
}

/// Why the engine could not be started.
#[derive(Debug, thiserror::Error)]
#[error("cannot start {program:?}: {source}")]
pub struct SpawnError {
    pub program: String,
    #[source]
    pub source: std::io::Error,
}

/// Start `launch` in a new process group with stdout and stderr piped.
pub fn spawn(launch: &Launch, extra_path: Option<&std::ffi::OsStr>) -> Result<Spawned, SpawnError> {
    let mut command = Command::new(&launch.program);
    command
        .args(&launch.args)
        .envs(&launch.env)
        .stdin(if launch.stdin_guard {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(false);
    if let Some(path) = extra_path {
        command.env("PATH", path);
    }
    if let Some(cwd) = &launch.cwd {
        command.current_dir(cwd);
    }
    platform::isolate(&mut command);
    let child = command.spawn().map_err(|source| SpawnError {
        program: launch.program.clone(),
        source,
    })?;
    let pid = child.id().ok_or_else(|| SpawnError {
        program: launch.program.clone(),
        source: std::io::Error::other("the process exited before its pid could be read"),
    })?;
    Ok(Spawned { child, pid })
}

pub use platform::{Signal, signal_group};

/// How an exit status reads to a person, and whether it was a SIGKILL.
pub fn describe_exit(status: &std::process::ExitStatus) -> (String, bool) {
    if let Some(code) = status.code() {
        return (format!("exited with code {code}"), false);
    }
    platform::describe_signal(status)
}

#[cfg(unix)]
mod platform {
    #![allow(unsafe_code)]
    //! Process groups and signals on Unix.

    use std::os::unix::process::ExitStatusExt;

    use nix::sys::signal::{self, Signal as NixSignal};
    use nix::unistd::Pid;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Signal {
        Term,
        Kill,
    }

    pub fn isolate(command: &mut tokio::process::Command) {
        command.process_group(0);
        #[cfg(target_os = "linux")]
        // SAFETY: the closure runs in the child between fork and exec, where only
        // async-signal-safe calls are allowed; prctl(2) (what `set_pdeathsig` calls) is one,
        // and it touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(NixSignal::SIGKILL).map_err(std::io::Error::from)
            });
        }
    }

    /// Signal every process in the group led by `pgid`. `false` when none is left.
    pub fn signal_group(pgid: u32, which: Signal) -> bool {
        let Ok(raw) = i32::try_from(pgid) else {
            return false;
        };
        let sig = match which {
            Signal::Term => NixSignal::SIGTERM,
            Signal::Kill => NixSignal::SIGKILL,
        };
        signal::killpg(Pid::from_raw(raw), sig).is_ok()
    }

    pub fn describe_signal(status: &std::process::ExitStatus) -> (String, bool) {
        match status.signal() {
            Some(sig) if sig == NixSignal::SIGKILL as i32 => ("killed by SIGKILL".into(), true),
            Some(sig) => {
                let name = NixSignal::try_from(sig)
                    .map(|s| s.as_str())
                    .unwrap_or("an unknown signal");
                (format!("killed by {name}"), false)
            }
            None => ("ended".into(), false),
        }
    }
}

#[cfg(not(unix))]
mod platform {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Signal {
        Term,
        Kill,
    }

    pub fn isolate(_command: &mut tokio::process::Command) {}

    pub fn signal_group(_pgid: u32, _which: Signal) -> bool {
        false
    }

    pub fn describe_signal(_status: &std::process::ExitStatus) -> (String, bool) {
        ("ended".into(), false)
    }
}
