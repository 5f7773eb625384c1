//! The engine configs tests start murmurd with, and the processes they watch.

use std::time::{Duration, Instant};

/// The config for the external engine at `url`, plus extra TOML.
pub fn external_config(url: &str, extra: &str) -> String {
    format!("[engine]\nid = \"external\"\nurl = \"{url}\"\nprobe_path = \"/probe\"\n{extra}\n")
}

/// The fault-injecting Python engine (tests/fixtures/fake-engine) as a `custom` engine, with
/// its `flags` and extra TOML (e.g. a `[supervisor]` table).
pub fn fake_engine_config(flags: &[&str], extra: &str) -> String {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/fake-engine/fake_engine.py"
    );
    let mut command = vec![
        "python3".to_string(),
        script.to_string(),
        "--port".into(),
        "{port}".into(),
    ];
    command.extend(flags.iter().map(|f| f.to_string()));
    let command: Vec<String> = command.iter().map(|c| format!("{c:?}")).collect();
    format!(
        "[engine]\nid = \"custom\"\n\n[engine.custom]\ncommand = [{}]\n\n{extra}\n",
        command.join(", ")
    )
}

/// Whether a process exists (and is not a zombie).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Send `signal` to `pid`.
pub fn kill(pid: u32, signal: i32) {
    // SAFETY: kill(2) has no memory-safety concerns.
    #[allow(unsafe_code)]
    let _ = unsafe { libc::kill(pid as i32, signal) };
}

/// Wait until `pid` is gone; false after `timeout`.
pub fn wait_gone(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    !alive(pid)
}
