//! nginx as a reverse proxy in front of an upstream (kept-alive upstream connections, no
//! buffering, no access log, WebSocket upgrades passed on): the bar proxy-bench holds Murmur's proxy to, and the front
//! the scale-out tests put before Murmur. `None` when nginx is not installed
//! (`scripts/install-deps.sh test` and `bench` install it).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

pub struct Nginx {
    child: std::process::Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    _dir: tempfile::TempDir,
}

impl Nginx {
    /// The master process (its workers are its children).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// nginx proxying everything to `upstream` (`http://host:port`), with `location` added to
    /// the `location /` block (headers to set, timeouts).
    pub fn start(upstream: &str, location: &str) -> Result<Option<Self>> {
        let Some(binary) = [
            "/usr/sbin/nginx",
            "/usr/local/sbin/nginx",
            "/opt/homebrew/bin/nginx",
        ]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists()) else {
            return Ok(None);
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let upstream = upstream.trim_start_matches("http://");
        let dir = tempfile::tempdir()?;
        let d = dir.path().display();
        std::fs::write(
            dir.path().join("nginx.conf"),
            format!(
                "worker_processes {workers};\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
                 events {{ worker_connections 1024; }}\n\
                 http {{\n access_log off;\n client_body_temp_path {d}/body;\n proxy_temp_path {d}/proxy;\n\
                 fastcgi_temp_path {d}/fastcgi;\n uwsgi_temp_path {d}/uwsgi;\n scgi_temp_path {d}/scgi;\n\
                 map $http_upgrade $connection_upgrade {{ default upgrade; '' \"\"; }}\n\
                 upstream engine {{ server {upstream}; keepalive 32; }}\n\
                 server {{\n  listen 127.0.0.1:{port};\n  location / {{\n   proxy_pass http://engine;\n\
                 proxy_http_version 1.1;\n   proxy_set_header Upgrade $http_upgrade;\n\
                 proxy_set_header Connection $connection_upgrade;\n   proxy_buffering off;\n\
                 {location}\n  }}\n }}\n}}\n",
                workers = std::thread::available_parallelism().map_or(1, |n| n.get()),
            ),
        )?;
        let child = Command::new(binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .spawn()
            .context("start nginx")?;
        let base = format!("http://127.0.0.1:{port}");
        let until = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > until {
                bail!("nginx did not listen on {port}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Some(Self {
            child,
            base,
            _dir: dir,
        }))
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM via kill(1): nginx's master stops its workers (SIGKILL would orphan them).
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}
