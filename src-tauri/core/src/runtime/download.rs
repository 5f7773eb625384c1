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

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::fetch::{
    DownloadPolicy, GetError, MAX_INDEX_BYTES, fetch_whole, hex, retry, retry_unless,
};
use super::{Progress, RuntimeError};
use crate::problem::Stage;

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
        fetch_whole(
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
        fetch_whole(
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
