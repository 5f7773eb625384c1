//! Downloading uv from PyPI: its wheel holds the binary (`uv-<v>.data/scripts/uv`), and PyPI's
//! JSON API lists every wheel with its sha256.
//!
//! The wheel is fetched with a stall timeout and retried with backoff, verified against the
//! index's sha256, and the binary is written beside its final place and renamed into it, so a
//! failed, stalled or tampered download leaves nothing behind.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{Progress, RuntimeError};

/// How hard to try.
#[derive(Debug, Clone)]
pub struct DownloadPolicy {
    /// Abort an attempt when no byte arrives for this long.
    pub stall_timeout: Duration,
    pub attempts: u32,
    pub first_backoff: Duration,
}

impl Default for DownloadPolicy {
    fn default() -> Self {
        Self {
            stall_timeout: Duration::from_secs(30),
            attempts: 3,
            first_backoff: Duration::from_millis(500),
        }
    }
}

#[derive(Deserialize)]
struct Release {
    urls: Vec<File>,
}

#[derive(Deserialize)]
struct File {
    filename: String,
    url: String,
    digests: Digests,
}

#[derive(Deserialize)]
struct Digests {
    sha256: String,
}

/// The wheel tag fragments that fit this machine, or `None` where uv has no wheel we use.
fn platform_tags() -> Option<(&'static str, &'static str)> {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => Some(("manylinux", "x86_64")),
        ("linux", "aarch64") => Some(("manylinux", "aarch64")),
        ("macos", "aarch64") => Some(("macosx", "arm64")),
        ("macos", "x86_64") => Some(("macosx", "x86_64")),
        _ => None,
    }
}

/// Download uv into `bin_dir/uv` from the index at `pypi_url` (`https://pypi.org/pypi`).
pub async fn uv(
    pypi_url: &str,
    bin_dir: &Path,
    policy: &DownloadPolicy,
    progress: &Progress,
) -> Result<PathBuf, RuntimeError> {
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(policy.stall_timeout)
        .build()
        .map_err(|e| RuntimeError::download(format!("cannot make an HTTP client: {e}")))?;
    let index = format!("{}/uv/json", pypi_url.trim_end_matches('/'));
    progress.stage("uv", format!("looking up uv on {index}"));
    let body = retry(policy, || async {
        let response = client.get(&index).send().await?.error_for_status()?;
        response.bytes().await
    })
    .await
    .map_err(|e| {
        RuntimeError::download(format!(
            "cannot read {index}: {}",
            crate::http_client::describe(&e)
        ))
    })?;
    let release: Release = serde_json::from_slice(&body)
        .map_err(|e| RuntimeError::download(format!("{index} is not PyPI's JSON API: {e}")))?;

    let (os_tag, arch_tag) = platform_tags().ok_or_else(|| {
        RuntimeError::download(format!(
            "uv publishes no wheel Murmur can use on {} {}",
            std::env::consts::OS,
            std::env::consts::ARCH
        ))
    })?;
    let wheel = release
        .urls
        .iter()
        .find(|f| {
            f.filename.ends_with(".whl")
                && f.filename.contains(os_tag)
                && f.filename.contains(arch_tag)
                && !f.filename.contains("musllinux")
        })
        .ok_or_else(|| {
            RuntimeError::download(format!("{index} lists no uv wheel for {os_tag} {arch_tag}"))
        })?;

    // Indexes may give file URLs relative to the JSON document (mirrors do).
    let wheel_url = reqwest::Url::parse(&index)
        .and_then(|base| base.join(&wheel.url))
        .map_err(|e| {
            RuntimeError::download(format!("bad wheel URL {:?} in {index}: {e}", wheel.url))
        })?;
    let bytes = retry(policy, || fetch(&client, wheel_url.as_str(), progress))
        .await
        .map_err(|e| {
            RuntimeError::download(format!(
                "cannot download {}: {}",
                wheel.filename,
                crate::http_client::describe(&e)
            ))
        })?;
    let actual = hex(&Sha256::digest(&bytes));
    if !actual.eq_ignore_ascii_case(&wheel.digests.sha256) {
        return Err(RuntimeError::download(format!(
            "{} does not match the index's sha256 (expected {}, got {actual}); it was discarded",
            wheel.filename, wheel.digests.sha256
        )));
    }
    progress.stage("uv", format!("unpacking {}", wheel.filename));
    let binary = extract_uv(&bytes)?;
    install(&binary, bin_dir)
}

async fn fetch(
    client: &reqwest::Client,
    url: &str,
    progress: &Progress,
) -> Result<Vec<u8>, reqwest::Error> {
    let response = client.get(url).send().await?.error_for_status()?;
    let total = response.content_length();
    let mut bytes = Vec::with_capacity(total.unwrap_or(0) as usize);
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk?);
        progress.bytes("uv", "downloading uv", bytes.len() as u64, total);
    }
    Ok(bytes)
}

pub(crate) async fn retry<T, E: std::fmt::Display, F, Fut>(
    policy: &DownloadPolicy,
    mut attempt: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut backoff = policy.first_backoff;
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(e) if tries < policy.attempts => {
                tracing::warn!(
                    "download attempt {tries} failed ({e}); retrying in {} ms",
                    backoff.as_millis()
                );
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The `uv` binary inside a uv wheel.
fn extract_uv(wheel: &[u8]) -> Result<Vec<u8>, RuntimeError> {
    let bad = |why: String| RuntimeError::download(format!("the uv wheel is unusable: {why}"));
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(wheel)).map_err(|e| bad(e.to_string()))?;
    let name = (0..archive.len())
        .filter_map(|i| {
            archive
                .name_for_index(i)
                .and_then(Result::ok)
                .map(|n| n.into_owned())
        })
        .find(|n| n.ends_with(".data/scripts/uv"))
        .ok_or_else(|| bad("no .data/scripts/uv inside".into()))?;
    let mut entry = archive.by_name(&name).map_err(|e| bad(e.to_string()))?;
    let mut binary = Vec::new();
    entry
        .read_to_end(&mut binary)
        .map_err(|e| bad(e.to_string()))?;
    Ok(binary)
}

/// Write `binary` to `bin_dir/uv` atomically: a temp file beside it, executable, renamed.
fn install(binary: &[u8], bin_dir: &Path) -> Result<PathBuf, RuntimeError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RuntimeError::Io { path, source }
    };
    fs_err::create_dir_all(bin_dir).map_err(io(bin_dir))?;
    let target = bin_dir.join("uv");
    let mut tmp = tempfile::Builder::new()
        .prefix(".uv.")
        .tempfile_in(bin_dir)
        .map_err(io(bin_dir))?;
    tmp.write_all(binary).map_err(io(tmp.path()))?;
    tmp.as_file().sync_all().map_err(io(tmp.path()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755))
            .map_err(io(tmp.path()))?;
    }
    tmp.persist(&target).map_err(|e| RuntimeError::Io {
        path: target.clone(),
        source: e.error,
    })?;
    Ok(target)
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
