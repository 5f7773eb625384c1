//! Finding a usable uv: `[runtime] uv_path`, then Murmur's own copy in `<data-dir>/bin`, then
//! one on `PATH` that is new enough; otherwise the caller downloads one.

use std::path::{Path, PathBuf};

use super::RuntimeError;

/// The oldest uv whose `sync` flags Murmur relies on (`--managed-python`).
pub const MIN_VERSION: (u64, u64, u64) = (0, 7, 0);

/// Where a uv came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Configured(PathBuf),
    Ours(PathBuf),
    OnPath(PathBuf),
}

impl Found {
    pub fn path(&self) -> &Path {
        match self {
            Self::Configured(p) | Self::Ours(p) | Self::OnPath(p) => p,
        }
    }
}

/// The first usable uv, or `None` when one must be downloaded.
/// `search_path` is the `PATH` to search (`None`: this process's).
pub fn find(
    configured: Option<&Path>,
    data_dir: &Path,
    search_path: Option<std::ffi::OsString>,
) -> Result<Option<Found>, RuntimeError> {
    if let Some(path) = configured {
        return if path.exists() {
            Ok(Some(Found::Configured(path.to_path_buf())))
        } else {
            Err(RuntimeError::MissingUv(path.to_path_buf()))
        };
    }
    let ours = data_dir.join("bin").join(exe("uv"));
    if ours.exists() {
        return Ok(Some(Found::Ours(ours)));
    }
    Ok(on_path(search_path).map(Found::OnPath))
}

fn on_path(search_path: Option<std::ffi::OsString>) -> Option<PathBuf> {
    let path = search_path.or_else(|| std::env::var_os("PATH"))?;
    let candidate = std::env::split_paths(&path)
        .map(|dir| dir.join(exe("uv")))
        .find(|p| p.is_file())?;
    let version = version(&candidate)?;
    (version >= MIN_VERSION).then_some(candidate)
}

/// `uv --version` → (major, minor, patch). Blocking: [`find`] runs on a blocking thread.
#[allow(clippy::disallowed_methods)]
pub fn version(uv: &Path) -> Option<(u64, u64, u64)> {
    let output = std::process::Command::new(uv)
        .arg("--version")
        .output()
        .ok()?;
    parse_version(&String::from_utf8_lossy(&output.stdout))
}

fn parse_version(text: &str) -> Option<(u64, u64, u64)> {
    let number = text.split_whitespace().nth(1)?;
    let mut parts = number.split('.').map(|p| p.parse::<u64>().ok());
    Some((
        parts.next()??,
        parts.next()??,
        parts.next().flatten().unwrap_or(0),
    ))
}

fn exe(name: &str) -> String {
    format!("{name}{}", std::env::consts::EXE_SUFFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        assert_eq!(
            parse_version("uv 0.9.5 (d5f39331a 2025-10-21)"),
            Some((0, 9, 5))
        );
        assert_eq!(parse_version("uv 1.0"), Some((1, 0, 0)));
        assert_eq!(parse_version("nonsense"), None);
    }

    #[test]
    fn a_configured_uv_that_is_missing_is_an_error() {
        let err = find(Some(Path::new("/nope/uv")), Path::new("/tmp"), None).expect_err("missing");
        assert!(err.to_string().contains("/nope/uv"));
    }
}
