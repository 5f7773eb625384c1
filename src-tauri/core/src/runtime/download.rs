//! Downloading uv from PyPI: its wheel holds the binary (`uv-<v>.data/scripts/uv`). The version,
//! and each platform's wheel with its sha256 and size, are pinned here ([`UV`]); PyPI's JSON API
//! only says where the wheel is.
//!
//! The index is read with a size cap; the wheel is fetched with a stall timeout and retried
//! with backoff, stopped as soon as it is longer than the pinned size, verified against the
//! pinned sha256, and the binary is written beside its final place and renamed into it, so a
//! failed, stalled, oversized or tampered download leaves nothing behind.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{Progress, RuntimeError};
use crate::problem::Stage;

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

/// The uv release Murmur downloads, pinned in the code: its version, and for each platform the
/// wheel's name, sha256 and size (from PyPI). What the index says is only where to get it.
#[derive(Debug, Clone, Copy)]
pub struct UvPin<'a> {
    pub version: &'a str,
    pub wheels: &'a [PinnedWheel<'a>],
}

#[derive(Debug, Clone, Copy)]
pub struct PinnedWheel<'a> {
    pub filename: &'a str,
    pub sha256: &'a str,
    pub size: u64,
}

/// uv 0.13.9.
pub const UV: UvPin<'static> = UvPin {
    version: "0.13.9",
    wheels: &[
        PinnedWheel {
            filename: "uv-0.13.9-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            sha256: "d7f459fe4fd247d830351c75686d3996ace3c6f3f728eb0e85a30b7ada0cef19",
            size: 17_606_939,
        },
        PinnedWheel {
            filename: "uv-0.13.9-py3-none-manylinux_2_28_aarch64.whl",
            sha256: "ecb6028d79dc96fbeafffe5c8af62a7099487ebc05a701e76714eebcffd06375",
            size: 16_864_124,
        },
        PinnedWheel {
            filename: "uv-0.13.9-py3-none-macosx_11_0_arm64.whl",
            sha256: "66c512266d633bef48384a1f53003f41f2a8e7b36fe6e7fbfd3e0fd52d96fa63",
            size: 14_660_755,
        },
        PinnedWheel {
            filename: "uv-0.13.9-py3-none-macosx_10_12_x86_64.whl",
            sha256: "c16ed11e013557536b3e60065f1b912f6407bd6518e041b961e23ef9e6b4fbf5",
            size: 17_529_974,
        },
    ],
};

/// An index document larger than this is not PyPI's listing of uv (today ~5 MB).
pub const MAX_INDEX_BYTES: usize = 16 * 1024 * 1024;
/// An index or a listing that sends nothing for this long is given up.
pub const INDEX_STALL: Duration = Duration::from_secs(30);

#[derive(Deserialize)]
struct Release {
    #[serde(default)]
    urls: Vec<File>,
    #[serde(default)]
    releases: std::collections::HashMap<String, Vec<File>>,
}

#[derive(Deserialize)]
struct File {
    filename: String,
    url: String,
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

/// Download the pinned uv (`pin`, [`UV`] outside tests) into `bin_dir/uv` from the index at
/// `pypi_url` (`https://pypi.org/pypi`): the index names where its wheel is; the wheel must be
/// the pinned size (the download stops the moment it is longer) and hash to the pinned sha256.
pub async fn uv(
    pypi_url: &str,
    pin: &UvPin<'_>,
    bin_dir: &Path,
    policy: &DownloadPolicy,
    progress: &Progress,
) -> Result<PathBuf, RuntimeError> {
    let (os_tag, arch_tag) = platform_tags().ok_or_else(|| {
        RuntimeError::download(format!(
            "uv publishes no wheel Murmur can use on {} {}",
            std::env::consts::OS,
            std::env::consts::ARCH
        ))
    })?;
    let pinned = pin
        .wheels
        .iter()
        .find(|w| w.filename.contains(os_tag) && w.filename.contains(arch_tag))
        .ok_or_else(|| {
            RuntimeError::download(format!(
                "Murmur pins no uv {} wheel for {os_tag} {arch_tag}",
                pin.version
            ))
        })?;
    let index = format!("{}/uv/json", pypi_url.trim_end_matches('/'));
    progress.stage(
        Stage::Uv,
        format!("looking up uv {} on {index}", pin.version),
    );
    let body = retry(policy, || {
        fetch(
            &index,
            MAX_INDEX_BYTES as u64,
            policy.stall_timeout,
            &|_, _| {},
        )
    })
    .await
    .map_err(|e| RuntimeError::download(format!("cannot read {index}: {e}")))?;
    let release: Release = serde_json::from_slice(&body)
        .map_err(|e| RuntimeError::download(format!("{index} is not PyPI's JSON API: {e}")))?;
    let listed = release
        .releases
        .get(pin.version)
        .into_iter()
        .flatten()
        .chain(&release.urls)
        .find(|f| f.filename == pinned.filename)
        .ok_or_else(|| {
            RuntimeError::download(format!("{index} does not list {}", pinned.filename))
        })?;

    // Indexes may give file URLs relative to the JSON document (mirrors do).
    let wheel_url = reqwest::Url::parse(&index)
        .and_then(|base| base.join(&listed.url))
        .map_err(|e| {
            RuntimeError::download(format!("bad wheel URL {:?} in {index}: {e}", listed.url))
        })?;
    let report = |done, total| progress.bytes(Stage::Uv, "downloading uv", done, total);
    let bytes = retry_unless(policy, GetError::is_final, || {
        fetch(
            wheel_url.as_str(),
            pinned.size,
            policy.stall_timeout,
            &report,
        )
    })
    .await
    .map_err(|e| RuntimeError::download(format!("cannot download {}: {e}", pinned.filename)))?;
    progress.stage(
        Stage::Uv,
        format!("checking and unpacking {}", pinned.filename),
    );
    // Hashing and unzipping 20 MB, then writing the binary: on a blocking thread.
    let (filename, sha256, size) = (
        pinned.filename.to_string(),
        pinned.sha256.to_string(),
        pinned.size,
    );
    let bin_dir = bin_dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let actual = hex(&Sha256::digest(&bytes));
        if !actual.eq_ignore_ascii_case(&sha256) || bytes.len() as u64 != size {
            return Err(RuntimeError::download(format!(
                "{filename} does not match the sha256 Murmur pins (expected {sha256}, got {actual}); it was discarded"
            )));
        }
        let binary = extract_uv(&bytes)?;
        install(&binary, &bin_dir)
    })
    .await
    .map_err(|e| RuntimeError::download(format!("unpacking uv failed: {e}")))?
}

/// Why a URL's body could not be had.
#[derive(Debug, thiserror::Error)]
pub enum GetError {
    /// Not reached, or refused (offline, a 404, a stall): said as people read it (see
    /// [`crate::http_client::download_failure`]); the whole chain is its source.
    #[error("{said}")]
    Unreachable {
        said: String,
        #[source]
        source: reqwest::Error,
    },
    /// It stopped sending (retried: a resume may get the rest).
    #[error(transparent)]
    Stalled(#[from] Stalled),
    /// It sends more than expected (not retried: it would again).
    #[error("too large: {url} {how}")]
    TooLarge { url: String, how: String },
    /// It sent something else than what was asked for.
    #[error("{url} is not {expected}: {source}")]
    Unexpected {
        url: String,
        expected: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

/// A source that sent nothing for a while.
#[derive(Debug, thiserror::Error)]
#[error("{url} sent nothing for {} s", after.as_secs())]
pub struct Stalled {
    pub url: String,
    pub after: Duration,
}

/// `step`, unless it takes longer than `stall` (the source at `url` has stopped sending).
pub(crate) async fn within<T>(
    stall: Duration,
    url: &str,
    step: impl Future<Output = T>,
) -> Result<T, Stalled> {
    tokio::time::timeout(stall, step)
        .await
        .map_err(|_| Stalled {
            url: url.into(),
            after: stall,
        })
}

impl GetError {
    pub(crate) fn unreachable(url: &str, source: reqwest::Error) -> Self {
        Self::Unreachable {
            said: crate::http_client::download_failure(url, &source),
            source,
        }
    }

    /// Whether trying again cannot help.
    pub fn is_final(&self) -> bool {
        !matches!(self, Self::Unreachable { .. } | Self::Stalled(_))
    }
}

/// `url`'s body, at most `limit` bytes: a longer one is refused as soon as it says so or
/// passes the limit; one that sends nothing for `stall` is given up.
pub(crate) async fn fetch(
    url: &str,
    limit: u64,
    stall: Duration,
    progress: &(dyn Fn(u64, Option<u64>) + Sync),
) -> Result<Vec<u8>, GetError> {
    let client = crate::http_client::downloads();
    let response = within(stall, url, client.get(url).send())
        .await?
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| GetError::unreachable(url, e))?;
    let total = response.content_length();
    if let Some(total) = total.filter(|t| *t > limit) {
        return Err(GetError::TooLarge {
            url: url.into(),
            how: format!("sends {total} bytes, more than the {limit} expected"),
        });
    }
    let mut bytes = Vec::with_capacity(total.unwrap_or(0).min(limit) as usize);
    let mut stream = response.bytes_stream();
    while let Some(chunk) = within(stall, url, stream.next()).await? {
        let chunk = chunk.map_err(|e| GetError::unreachable(url, e))?;
        if (bytes.len() + chunk.len()) as u64 > limit {
            return Err(GetError::TooLarge {
                url: url.into(),
                how: format!("went past the {limit} bytes expected; stopped"),
            });
        }
        bytes.extend_from_slice(&chunk);
        progress(bytes.len() as u64, total);
    }
    Ok(bytes)
}

/// `url`'s JSON, read whole (at most `limit` bytes), as `T`; `expected` names what it should
/// be ("the Hub's API") when it is not.
pub(crate) async fn fetch_json<T: serde::de::DeserializeOwned>(
    url: &str,
    limit: u64,
    expected: &'static str,
) -> Result<T, GetError> {
    let body = fetch(url, limit, INDEX_STALL, &|_, _| {}).await?;
    serde_json::from_slice(&body).map_err(|source| GetError::Unexpected {
        url: url.into(),
        expected,
        source,
    })
}

pub(crate) async fn retry<T, E: std::fmt::Display, F, Fut>(
    policy: &DownloadPolicy,
    attempt: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    retry_unless(policy, |_| false, attempt).await
}

/// [`retry`], except that an error `is_final` says is final is returned at once (a source that
/// sends too much, or the wrong thing, will do it again).
pub(crate) async fn retry_unless<T, E: std::fmt::Display, F, Fut>(
    policy: &DownloadPolicy,
    is_final: impl Fn(&E) -> bool,
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
            Err(e) if tries < policy.attempts && !is_final(&e) => {
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
