//! Running the real `murmurd` binary in a temporary data dir.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The built `murmurd`: `$MURMURD_BIN`, or beside the test executable's `deps/` folder
/// (`make test` builds it first).
pub fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("MURMURD_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().expect("exe folder");
    let dir = if dir.ends_with("deps") {
        dir.parent().expect("target folder")
    } else {
        dir
    };
    let bin = dir.join(format!("murmurd{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p murmur-core --bin murmurd` (make test does)",
        bin.display()
    );
    bin
}

/// A running `murmurd`; killed on drop.
pub struct Murmurd {
    pub child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub data_dir: tempfile::TempDir,
    stderr_path: PathBuf,
}

/// How to start it.
pub struct Launch<'a> {
    pub config: &'a str,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl<'a> Launch<'a> {
    pub fn with_config(config: &'a str) -> Self {
        Self {
            config,
            args: vec!["--port".into(), "0".into()],
            env: Vec::new(),
        }
    }
}

impl Murmurd {
    /// Start with `config` as its config file and a free port; wait until it listens.
    pub fn start(config: &str) -> Self {
        Self::launch(Launch::with_config(config))
            .unwrap_or_else(|(status, stderr)| panic!("murmurd exited with {status}:\n{stderr}"))
    }

    /// Start; on an early exit return its status and stderr.
    pub fn launch(launch: Launch<'_>) -> Result<Self, (ExitStatus, String)> {
        let data_dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(data_dir.path().join("config.toml"), launch.config).expect("write config");
        let stderr_path = data_dir.path().join("murmurd.stderr");
        let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
        let mut command = Command::new(binary());
        command
            .arg("--data-dir")
            .arg(data_dir.path())
            .args(&launch.args)
            .env_remove("MURMUR_PORT")
            .env_remove("MURMUR_ENGINE")
            .env_remove("MURMUR_CONFIG")
            .env_remove("MURMUR_DATA_DIR")
            .env("MURMUR_LOG", "info,murmur_core=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        for (k, v) in &launch.env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("spawn murmurd");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let Some(url) = line.trim().strip_prefix("Murmur listening on ") else {
            let status = child.wait().expect("wait");
            let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            return Err((status, stderr));
        };
        let base = url.trim_end_matches("/v1").to_string();
        Ok(Self {
            child,
            base,
            data_dir,
            stderr_path,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn port(&self) -> u16 {
        self.base
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port in base URL")
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// Send a signal (SIGTERM, SIGINT, …).
    pub fn signal(&self, signal: i32) {
        let pid = i32::try_from(self.child.id()).expect("pid fits");
        // SAFETY: kill(2) on our own child's pid has no memory-safety concerns.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill({pid}, {signal})");
    }

    /// Wait for the process to exit, at most `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Murmurd {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- murmurd stderr ---\n{}--- end of murmurd stderr ---",
                self.stderr()
            );
        }
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The config for the external engine at `url`, plus extra TOML.
pub fn external_config(url: &str, extra: &str) -> String {
    format!("[engine]\nid = \"external\"\nurl = \"{url}\"\nprobe_path = \"/probe\"\n{extra}\n")
}
