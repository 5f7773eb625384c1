//! Transcription models installed from the page: Whisper's catalog models fetched ahead of
//! use (the same verified fetch the engine's warm-up runs, [`whisper::fetch_model`]), with
//! byte progress, cancellable — a cancelled install leaves no folder behind — and removable.
//!
//! Also what the catalog says about each model on this machine: its speed (measured from
//! the last transcription in this run, else estimated from the machine's cores) and which one
//! is recommended for the machine's memory and cores.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::{CatalogError, InstallState};
use crate::config::Settings;
use crate::engine::whisper::{self, ModelSource};
use crate::runtime::fetch::Cancel;

/// An install as the page follows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelInstall {
    pub state: InstallState,
    pub done: u64,
    pub total: Option<u64>,
    pub error: Option<String>,
}

/// The installs of a running Murmur, by model name. Cheap to clone.
#[derive(Clone)]
pub struct ModelInstalls(Arc<Inner>);

struct Inner {
    data_dir: PathBuf,
    installs: Mutex<BTreeMap<String, ModelInstall>>,
    cancels: Mutex<BTreeMap<String, Cancel>>,
}

impl ModelInstalls {
    pub fn new(data_dir: &Path) -> Self {
        Self(Arc::new(Inner {
            data_dir: data_dir.to_path_buf(),
            installs: Mutex::default(),
            cancels: Mutex::default(),
        }))
    }

    /// This run's installs, by model name.
    pub fn installs(&self) -> BTreeMap<String, ModelInstall> {
        lock(&self.0.installs).clone()
    }

    fn record(&self, name: &str, install: ModelInstall) {
        lock(&self.0.installs).insert(name.to_string(), install);
    }

    /// Start fetching model `name` (a catalog name or a Hub repository); answers once the
    /// download has started, or at once when the model is already installed. Installs are
    /// known by their repository, whatever name they were asked by.
    pub fn install(&self, settings: &Settings, name: &str) -> Result<ModelInstall, CatalogError> {
        let repo = hub_repo(name)?;
        let name = repo.as_str();
        let dest = whisper::hub_dir(&self.0.data_dir, &repo);
        if whisper::is_installed(&dest) {
            let done = ModelInstall {
                state: InstallState::Installed,
                done: 0,
                total: None,
                error: None,
            };
            self.record(name, done.clone());
            return Ok(done);
        }
        let cancel = Cancel::default();
        {
            let mut cancels = lock(&self.0.cancels);
            if cancels.contains_key(name) {
                return Err(CatalogError::Conflict(format!(
                    "{name} is already being installed"
                )));
            }
            cancels.insert(name.to_string(), cancel.clone());
        }
        let started = ModelInstall {
            state: InstallState::Downloading,
            done: 0,
            total: whisper::catalog_model(name).map(|m| m.size),
            error: None,
        };
        self.record(name, started.clone());
        let installs = self.clone();
        let hub = settings.runtime.huggingface_url.clone();
        let name = name.to_string();
        tokio::spawn(async move {
            let progress = {
                let (installs, name) = (installs.clone(), name.clone());
                crate::runtime::Progress::new(move |warmup| {
                    if let (Some(done), Some(total)) = (warmup.done, warmup.total) {
                        let mut all = lock(&installs.0.installs);
                        if let Some(install) = all.get_mut(&name)
                            && install.state == InstallState::Downloading
                        {
                            install.done = done;
                            install.total = Some(total);
                        }
                    }
                })
            };
            let log = |line: &str| tracing::info!("{line}");
            let outcome = whisper::fetch_model(&hub, &repo, &dest, &progress, &log, &cancel).await;
            lock(&installs.0.cancels).remove(&name);
            let ended = |state, error| ModelInstall {
                state,
                done: 0,
                total: None,
                error,
            };
            let install = match outcome {
                Ok(()) => ended(InstallState::Installed, None),
                Err(_) if cancel.is_cancelled() => {
                    // Nothing of a cancelled install stays (its finished files included).
                    let dest = dest.clone();
                    let _ = tokio::task::spawn_blocking(move || remove_folder(&dest)).await;
                    ended(InstallState::Cancelled, None)
                }
                Err(e) => ended(InstallState::Failed, Some(e.to_string())),
            };
            tracing::info!(model = %name, state = ?install.state, "transcription model install ended");
            installs.record(&name, install);
        });
        Ok(started)
    }

    /// Stop installing model `name`.
    pub fn cancel(&self, name: &str) -> Result<(), CatalogError> {
        let repo = hub_repo(name)?;
        match lock(&self.0.cancels).get(&repo) {
            Some(cancel) => {
                cancel.cancel();
                Ok(())
            }
            None => Err(CatalogError::NotFound(format!(
                "{name} is not being installed"
            ))),
        }
    }

    /// Remove installed model `name`; not the one transcription is set to use, by whatever
    /// name (a catalog name and its repository are one model), nor one being fetched (by the
    /// page or by the engine's warm-up). Blocking: it deletes a folder.
    pub fn remove(&self, settings: &Settings, name: &str) -> Result<(), CatalogError> {
        let repo = hub_repo(name)?;
        let configured = whisper::configured_model(settings);
        if matches!(whisper::source(&configured), ModelSource::Hub { repo: used } if used == repo) {
            return Err(CatalogError::Conflict(format!(
                "{name} is the model transcription uses: choose another one first"
            )));
        }
        if lock(&self.0.cancels).contains_key(&repo) {
            return Err(CatalogError::Conflict(format!(
                "{name} is being installed: cancel it first"
            )));
        }
        let dest = whisper::hub_dir(&self.0.data_dir, &repo);
        // The engine's warm-up fetches under the folder's lock too.
        let Some(_fetching) = crate::runtime::fetch::lock::try_lock(&dest) else {
            return Err(CatalogError::Conflict(format!(
                "{name} is being downloaded: wait for it to finish"
            )));
        };
        if !dest.exists() {
            return Err(CatalogError::NotFound(format!("{name} is not installed")));
        }
        remove_folder(&dest).map_err(|e| {
            CatalogError::unavailable(format!("{} cannot be removed: ", dest.display()), e)
        })?;
        lock(&self.0.installs).remove(&repo);
        Ok(())
    }
}

/// Delete a model's folder. Blocking: call it on a blocking thread.
#[allow(clippy::disallowed_methods)] // the one place, on blocking threads
fn remove_folder(dest: &Path) -> std::io::Result<()> {
    std::fs::remove_dir_all(dest)
}

/// The Hub repository of `name` (a catalog name, or a repository id `owner/name`): a folder
/// of the user's is not Murmur's to fetch or remove, and anything else names no model (nor a
/// path under the models folder).
fn hub_repo(name: &str) -> Result<String, CatalogError> {
    match whisper::source(name) {
        ModelSource::Hub { repo } if is_repo_id(&repo) => Ok(repo),
        ModelSource::Hub { .. } => Err(CatalogError::NotFound(format!(
            "{name:?} is no model: name one of the catalog (tiny.en, base, …) or a Hub repository (owner/name)"
        ))),
        ModelSource::Folder(dir) => Err(CatalogError::NotFound(format!(
            "{} is a folder of yours, not a model Murmur installs",
            dir.display()
        ))),
    }
}

/// `owner/name`, each part letters, digits, `-`, `_` and `.` (not only dots), without `--`
/// or `..` (the Hub allows neither): a repository's folder is its id with `/` as `--`, so no
/// two repositories share one.
pub fn is_repo_id(repo: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && p.len() <= 96
            && !p.contains("--")
            && !p.contains("..")
            && !p.chars().all(|c| c == '.')
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    matches!(repo.split_once('/'), Some((owner, name)) if part(owner) && part(name))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How fast a model transcribes here: engine seconds per second of audio.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ModelSpeed {
    pub secs_per_audio_sec: f64,
    /// Measured from the last transcription with it in this run; otherwise estimated.
    pub measured: bool,
}

/// `measured` (by model name or repository) if Murmur has transcribed with the model, else
/// the catalog's figure scaled to this machine's cores.
pub fn speed(
    name: &str,
    source: &str,
    measured: &BTreeMap<String, f64>,
    cores: usize,
) -> Option<ModelSpeed> {
    if let Some(&secs) = measured.get(name).or_else(|| measured.get(source)) {
        return Some(ModelSpeed {
            secs_per_audio_sec: secs,
            measured: true,
        });
    }
    // The catalog's figures are for two cores; CTranslate2 scales well short of linearly.
    let cores = cores.clamp(1, 16) as f64;
    whisper::catalog_model(name).map(|m| ModelSpeed {
        secs_per_audio_sec: m.cpu_secs_per_audio_sec * (2.0 / cores).powf(0.7),
        measured: false,
    })
}

/// The model for a machine with `memory_mb` of RAM and `cores`: what transcribes faster than
/// speech with room to spare (Apple Silicon: MLX's large-v3-turbo, which its GPU runs fast).
pub fn recommended(memory_mb: u64, cores: usize, apple_silicon: bool) -> &'static str {
    if apple_silicon {
        "mlx-community/whisper-large-v3-turbo"
    } else if cores >= 8 && memory_mb >= 16_000 {
        "large-v3-turbo"
    } else if cores >= 4 && memory_mb >= 8_000 {
        "small"
    } else {
        "base"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recommendation_follows_memory_and_cores() {
        assert_eq!(recommended(24_000, 2, false), "base");
        assert_eq!(recommended(8_000, 4, false), "small");
        assert_eq!(recommended(4_000, 8, false), "base");
        assert_eq!(recommended(32_000, 12, false), "large-v3-turbo");
        assert!(recommended(16_000, 8, true).contains("large-v3-turbo"));
    }

    #[test]
    fn a_measured_speed_wins_over_the_estimate() {
        let mut measured = BTreeMap::new();
        let estimate = speed("base", "Systran/faster-whisper-base", &measured, 2).expect("catalog");
        assert!(!estimate.measured);
        let faster = speed("base", "Systran/faster-whisper-base", &measured, 8).expect("catalog");
        assert!(faster.secs_per_audio_sec < estimate.secs_per_audio_sec);
        measured.insert("base".to_string(), 0.2);
        let known = speed("base", "Systran/faster-whisper-base", &measured, 2).expect("measured");
        assert_eq!((known.secs_per_audio_sec, known.measured), (0.2, true));
        assert_eq!(
            speed("someone/else", "someone/else", &BTreeMap::new(), 2),
            None
        );
    }

    #[test]
    fn only_catalog_names_and_repository_ids_name_a_model() {
        assert_eq!(
            hub_repo("tiny.en").ok().as_deref(),
            Some("Systran/faster-whisper-tiny.en")
        );
        assert_eq!(
            hub_repo("someone/their-model_v2.1").ok().as_deref(),
            Some("someone/their-model_v2.1")
        );
        for bad in [
            "", "base-ish", "a/b/c", "../x", "x/..", "a b/c", "/", "owner/", "x/y--z", "x--y/z",
            "a..b/c",
        ] {
            assert!(
                matches!(hub_repo(bad), Err(CatalogError::NotFound(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_folder_is_not_installed_or_removed() {
        let dir = tempfile::tempdir().expect("temp");
        let installs = ModelInstalls::new(dir.path());
        let settings = Settings::default();
        let folder = dir.path().join("mine").display().to_string();
        assert!(matches!(
            installs.remove(&settings, &folder),
            Err(CatalogError::NotFound(_))
        ));
        assert!(matches!(
            installs.remove(&settings, "tiny"),
            Err(CatalogError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn the_model_in_use_or_being_fetched_is_not_removed_by_any_of_its_names() {
        let dir = tempfile::tempdir().expect("temp");
        let installs = ModelInstalls::new(dir.path());
        let settings = Settings::default(); // base, that is Systran/faster-whisper-base
        for name in ["base", "Systran/faster-whisper-base"] {
            let dest = whisper::hub_dir(dir.path(), "Systran/faster-whisper-base");
            std::fs::create_dir_all(&dest).expect("folder");
            assert!(
                matches!(
                    installs.remove(&settings, name),
                    Err(CatalogError::Conflict(_))
                ),
                "{name}"
            );
            assert!(dest.exists(), "{name}: the model in use stays");
        }
        // tiny.en while the engine's warm-up fetches it (the folder's lock is held).
        let tiny = whisper::hub_dir(dir.path(), "Systran/faster-whisper-tiny.en");
        std::fs::create_dir_all(&tiny).expect("folder");
        let fetching = crate::runtime::fetch::lock::try_lock(&tiny).expect("free");
        assert!(matches!(
            installs.remove(&settings, "Systran/faster-whisper-tiny.en"),
            Err(CatalogError::Conflict(_))
        ));
        drop(fetching);
        installs
            .remove(&settings, "tiny.en")
            .expect("removed once the fetch is over");
        assert!(!tiny.exists());
    }
}
