//! Running the real `murmurd` binary in a temporary data dir.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

mod processes;
mod quiet;

pub use processes::{alive, external_config, fake_engine_config, kill, wait_gone};
pub use quiet::Quiet;

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
    /// Reuse this data dir (its config is overwritten) instead of a new one.
    pub data_dir: Option<tempfile::TempDir>,
}

impl<'a> Launch<'a> {
    pub fn with_config(config: &'a str) -> Self {
        Self {
            config,
            args: vec!["--port".into(), "0".into()],
            env: Vec::new(),
            data_dir: None,
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
        Self::launch_limited(launch, &[])
    }

    /// Start under `prlimit`'s `limits` (`--as=4294967296`, `--nofile=256`): the resource
    /// limits a hostile client's requests must not break murmurd under.
    pub fn launch_limited(
        launch: Launch<'_>,
        limits: &[&str],
    ) -> Result<Self, (ExitStatus, String)> {
        Self::launch_binary(&binary(), launch, limits)
    }

    /// Start `binary` (murmurd, or the desktop app, which takes the same command line and
    /// says where it listens the same way).
    pub fn launch_binary(
        binary: &Path,
        launch: Launch<'_>,
        limits: &[&str],
    ) -> Result<Self, (ExitStatus, String)> {
        let data_dir = match launch.data_dir {
            Some(dir) => dir,
            None => tempfile::tempdir().expect("tempdir"),
        };
        std::fs::write(data_dir.path().join("config.toml"), launch.config).expect("write config");
        let stderr_path = data_dir.path().join("murmurd.stderr");
        let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
        let mut command = if limits.is_empty() {
            Command::new(binary)
        } else {
            let mut prlimit = Command::new("prlimit");
            prlimit.args(limits).arg("--").arg(binary);
            prlimit
        };
        command
            .arg("--data-dir")
            .arg(data_dir.path())
            .args(&launch.args)
            .env_remove("MURMUR_PORT")
            .env_remove("MURMUR_ENGINE")
            .env_remove("MURMUR_CONFIG")
            .env_remove("MURMUR_DATA_DIR")
            .env("MURMUR_LOG", "info,murmur_core=debug")
            // The source tree's engines, not a copy a desktop build left beside the binary.
            .env("MURMUR_RESOURCES", source_tree())
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

    /// The control token murmurd created in its data dir.
    /// Call the control API with the token: `method path`, a JSON body, an `Origin`.
    pub async fn control(
        &self,
        method: http::Method,
        path: &str,
        body: Option<&serde_json::Value>,
        origin: Option<&str>,
    ) -> crate::Reply {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut req = crate::client::request(method, &self.url(path), body);
        let headers = req.headers_mut();
        headers.insert(
            "authorization",
            format!("Bearer {}", self.token()).parse().expect("header"),
        );
        headers.insert("content-type", "application/json".parse().expect("header"));
        if let Some(origin) = origin {
            headers.insert("origin", origin.parse().expect("header"));
        }
        crate::Client::new().exchange(req).await
    }

    pub fn token(&self) -> String {
        std::fs::read_to_string(self.data_dir().join("control-token")).expect("control-token")
    }

    /// `GET /murmur/api/status`.
    pub async fn status(&self) -> serde_json::Value {
        let mut request =
            crate::client::request(http::Method::GET, &self.url("/murmur/api/status"), "");
        request.headers_mut().insert(
            http::header::AUTHORIZATION,
            format!("Bearer {}", self.token()).parse().expect("header"),
        );
        let reply = crate::Client::new().exchange(request).await;
        assert_eq!(reply.status, 200, "status: {:?}", reply.body);
        reply.json()
    }

    /// `POST /murmur/api/…` with the token; the reply.
    pub async fn control_post(&self, path: &str) -> crate::Reply {
        let mut request = crate::client::request(http::Method::POST, &self.url(path), "");
        request.headers_mut().insert(
            http::header::AUTHORIZATION,
            format!("Bearer {}", self.token()).parse().expect("header"),
        );
        crate::Client::new().exchange(request).await
    }

    /// Change settings through the control API (`GET` then `PUT` of the whole object), as
    /// the page does; returns the `PUT`'s reply.
    pub async fn change_settings(
        &self,
        change: impl FnOnce(&mut serde_json::Value),
    ) -> crate::Reply {
        let client = crate::Client::new();
        let authorised = |method, body: String| {
            let mut request =
                crate::client::request(method, &self.url("/murmur/api/settings"), body);
            let headers = request.headers_mut();
            headers.insert(
                http::header::AUTHORIZATION,
                format!("Bearer {}", self.token()).parse().expect("header"),
            );
            headers.insert(
                http::header::CONTENT_TYPE,
                "application/json".parse().expect("header"),
            );
            request
        };
        let current = client
            .exchange(authorised(http::Method::GET, String::new()))
            .await
            .json();
        let mut settings = current["settings"].clone();
        change(&mut settings);
        client
            .exchange(authorised(http::Method::PUT, settings.to_string()))
            .await
    }

    /// `GET /murmur/api/status`, read into Murmur's own type (what tests compare).
    pub async fn engine(&self) -> murmur_core::status::Status {
        typed(&self.status().await)
    }

    /// [`Self::wait_for`] with a typed status.
    pub async fn wait_for_engine(
        &self,
        what: &str,
        timeout: Duration,
        check: impl Fn(&murmur_core::status::Status) -> bool,
    ) -> murmur_core::status::Status {
        let status = self
            .wait_for(what, timeout, |status| check(&typed(status)))
            .await;
        typed(&status)
    }

    /// `GET /murmur/api/metrics` (JSON).
    pub async fn metrics(&self) -> serde_json::Value {
        let reply = self
            .control(http::Method::GET, "/murmur/api/metrics", None, None)
            .await;
        assert_eq!(reply.status, 200, "metrics: {:?}", reply.body);
        reply.json()
    }

    /// Requests waiting for the engine now (`queued` in `/murmur/api/metrics`).
    pub async fn queued(&self) -> u64 {
        self.metrics().await["queued"]
            .as_u64()
            .expect("metrics say how many wait")
    }

    /// Client requests arrived and not yet answered (`in_progress` in `/murmur/api/metrics`).
    pub async fn in_progress(&self) -> u64 {
        self.metrics().await["in_progress"]
            .as_u64()
            .expect("metrics say how many are in progress")
    }

    /// Poll the status until `check` holds; panics with the last status after `timeout`.
    pub async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        check: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        loop {
            let status = self.status().await;
            if check(&status) {
                return status;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; last status: {status:#}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stop this murmurd abruptly and hand back its data dir.
    pub fn kill_keep_data(mut self) -> tempfile::TempDir {
        self.signal(libc::SIGKILL);
        let _ = self.child.wait();
        let empty = tempfile::tempdir().expect("tempdir");
        std::mem::replace(&mut self.data_dir, empty)
    }

    /// The lines of `logs/engine.log`.
    pub fn engine_log(&self) -> String {
        std::fs::read_to_string(self.data_dir().join("logs/engine.log")).unwrap_or_default()
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
                "--- murmurd stderr (polls left out) ---\n{}--- end of murmurd stderr ---",
                tail(&without_polls(&self.stderr()), 120)
            );
            eprintln!(
                "--- logs/engine.log ---\n{}--- end of engine.log ---",
                tail(&self.engine_log(), 60)
            );
        }
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `log` without the request lines of the status and metrics polls tests make many times a
/// second, which would push what went wrong out of a CI log.
fn without_polls(log: &str) -> String {
    log.lines()
        .filter(|line| {
            !(line.contains("request method=GET")
                && (line.contains("path=\"/murmur/api/status\"")
                    || line.contains("path=\"/murmur/api/metrics\"")))
        })
        .flat_map(|line| [line, "\n"])
        .collect()
}

/// The last `lines` lines of `log`, saying how many came before.
fn tail(log: &str, lines: usize) -> String {
    let all: Vec<&str> = log.lines().collect();
    let skip = all.len().saturating_sub(lines);
    let mut out = if skip > 0 {
        format!("[… {skip} earlier lines]\n")
    } else {
        String::new()
    };
    for line in &all[skip..] {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// A status as Murmur's own type; a status that does not read back fails the test.
fn typed(status: &serde_json::Value) -> murmur_core::status::Status {
    serde_json::from_value(status.clone())
        .unwrap_or_else(|e| panic!("the status does not read back: {e}: {status:#}"))
}

/// The repository, whose `python-runtime/` murmurd runs in tests.
pub fn source_tree() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}
