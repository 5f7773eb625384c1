//! The voice catalog: what each engine can install, installing (with byte progress, a digest
//! checked, cancellable) and removing.
//!
//! - Piper: the `voices.json` index of `rhasspy/piper-voices` on the Hub ([`piper`]).
//! - Kokoro: the Hub's listing of `onnx-community/Kokoro-82M-v1.0-ONNX/voices` ([`kokoro`]).
//!
//! Where voices come from and how one is fetched are in [`crate::voices`]; this is the handle
//! the control API and the page use.
//! - MLX Audio: the voices that came with its model (nothing to install).
//!
//! Installed voices live in the engine's voices folder ([`voices_dir`]), which the engine
//! servers read on every request, so a new voice speaks without a restart. An index is cached
//! on disk when fetched; offline, the cached one is used and the listing says so. A voice
//! appears in its folder whole or not at all (see [`crate::runtime::fetch`]).

mod install;
mod installed;
pub mod models;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::watch;

use crate::config::{EngineId, Settings};
use crate::runtime::fetch::DownloadPolicy;
use crate::runtime::fetch::{Cancel, FetchError};
use crate::voices::{CatalogVoice, Remote, kokoro, piper, voices_dir};
use installed::{installed_files, is_installed, mlx_voices, unlisted};

/// What `GET /murmur/api/voices/catalog` answers.
#[derive(Debug, Clone, Serialize)]
pub struct Listing {
    pub engine: EngineId,
    /// Where the index comes from.
    pub source: Option<String>,
    /// The index could not be fetched now: this is the cached one (or none).
    pub offline: bool,
    /// What to know about this listing (offline, or an engine with nothing to install).
    pub note: Option<String>,
    pub voices: Vec<CatalogVoice>,
}

/// Why a catalog call failed; control turns these into API errors.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CatalogError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// It cannot be had now (an index that is not one, a file that cannot be removed):
    /// `said` for people, the cause as the source when there is one.
    #[error("{said}")]
    Unavailable {
        said: String,
        #[source]
        source: Option<Arc<dyn std::error::Error + Send + Sync>>,
    },
}

impl CatalogError {
    /// Unavailable because of `source`, said as its message (with `context` before it).
    pub fn unavailable(
        context: impl std::fmt::Display,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Unavailable {
            said: format!("{context}{source}"),
            source: Some(Arc::new(source)),
        }
    }
}

/// Where an install (of a voice, or of a transcription model) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InstallState {
    Downloading,
    Installed,
    Failed,
    Cancelled,
}

/// An install as the page follows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Install {
    pub engine: EngineId,
    pub voice: String,
    pub state: InstallState,
    pub done: u64,
    pub total: Option<u64>,
    pub error: Option<String>,
}

/// The catalog of a running Murmur. Cheap to clone.
#[derive(Clone)]
pub struct Catalog(Arc<Inner>);

struct Inner {
    data_dir: PathBuf,
    policy: DownloadPolicy,
    installs: watch::Sender<Vec<Install>>,
    cancels: Mutex<BTreeMap<String, Cancel>>,
    /// Bumped on every install and removal: the proxy asks the engine for its voices again.
    generation: Arc<AtomicU64>,
}

impl Catalog {
    /// `generation` is the proxy's count of voice changes (its `voices_changed`).
    pub fn new(data_dir: &Path, generation: Arc<AtomicU64>) -> Self {
        Self(Arc::new(Inner {
            data_dir: data_dir.to_path_buf(),
            policy: DownloadPolicy::default(),
            installs: watch::channel(Vec::new()).0,
            cancels: Mutex::new(BTreeMap::new()),
            generation,
        }))
    }

    /// Changes when a voice is installed or removed.
    pub fn generation(&self) -> u64 {
        self.0.generation.load(Ordering::SeqCst)
    }

    /// The installs of this run, for the page's progress bars.
    pub fn installs(&self) -> watch::Receiver<Vec<Install>> {
        self.0.installs.subscribe()
    }

    fn index_cache(&self, engine: EngineId) -> PathBuf {
        self.0
            .data_dir
            .join("voices")
            .join("index")
            .join(format!("{}.json", engine.as_str()))
    }

    /// Fetch the index of `engine` (and cache it), or fall back to the cached one.
    async fn index(&self, engine: EngineId, url: &str) -> (Option<Vec<u8>>, Option<String>) {
        let cache = self.index_cache(engine);
        let fetched = crate::voices::get(url).await;
        match fetched {
            Ok(body) => {
                if let Some(dir) = cache.parent() {
                    let _ = std::fs::create_dir_all(dir);
                }
                let next = cache.with_extension("json.next");
                if std::fs::write(&next, &body).is_ok() {
                    let _ = std::fs::rename(&next, &cache);
                }
                (Some(body), None)
            }
            Err(why) => (std::fs::read(&cache).ok(), Some(why.to_string())),
        }
    }

    /// Every voice `settings`' engine can have, each marked installed or not.
    pub async fn list(&self, settings: &Settings) -> Result<Listing, CatalogError> {
        let (listing, _) = self.list_with_files(settings).await?;
        Ok(listing)
    }

    async fn list_with_files(
        &self,
        settings: &Settings,
    ) -> Result<(Listing, Vec<Vec<Remote>>), CatalogError> {
        let engine = settings.engine.id;
        let hub = &settings.runtime.huggingface_url;
        let dir = voices_dir(settings, &self.0.data_dir);
        let (url, parsed) = match engine {
            EngineId::Piper => {
                let url = piper::index_url(hub);
                let (index, why) = self.index(engine, &url).await;
                let voices = match &index {
                    Some(index) => {
                        piper::parse(hub, index).map_err(|e| CatalogError::unavailable("", e))?
                    }
                    None => Vec::new(),
                };
                (url, (voices, why, index.is_some()))
            }
            EngineId::Kokoro => {
                let url = kokoro::index_url(hub);
                let (index, why) = self.index(engine, &url).await;
                let voices = kokoro::parse(hub, index.as_deref())
                    .map_err(|e| CatalogError::unavailable("", e))?;
                (url, (voices, why, index.is_some()))
            }
            EngineId::MlxAudio => {
                return Ok((
                    Listing {
                        engine,
                        source: None,
                        offline: false,
                        note: Some(
                            "MLX Audio's voices come with its model: every one is installed".into(),
                        ),
                        voices: mlx_voices(settings),
                    },
                    Vec::new(),
                ));
            }
            EngineId::Custom | EngineId::External => {
                return Ok((
                    Listing {
                        engine,
                        source: None,
                        offline: false,
                        note: Some(
                            "this engine's voices are its own: Murmur cannot install any".into(),
                        ),
                        voices: Vec::new(),
                    },
                    Vec::new(),
                ));
            }
        };
        let (voices, why, have_index) = parsed;
        let note = why.map(|why| {
            if have_index {
                format!("the index could not be fetched ({why}); this is the copy from the last time")
            } else {
                format!("the index could not be fetched ({why}) and none is cached: connect once to see every voice")
            }
        });
        let offline = note.is_some();
        let mut entries = Vec::new();
        let mut files = Vec::new();
        for (mut entry, remote) in voices {
            entry.installed = is_installed(engine, &dir, &entry.id);
            entries.push(entry);
            files.push(remote);
        }
        for entry in unlisted(engine, &dir, &entries) {
            entries.push(entry);
            files.push(Vec::new());
        }
        if engine == EngineId::Piper {
            piper::settle_ids(&mut entries);
        }
        Ok((
            Listing {
                engine,
                source: Some(url),
                offline,
                note,
                voices: entries,
            },
            files,
        ))
    }

    /// Remove installed voice `id` of `settings`' engine.
    pub fn remove(&self, settings: &Settings, id: &str) -> Result<(), CatalogError> {
        let engine = settings.engine.id;
        let dir = voices_dir(settings, &self.0.data_dir);
        if engine == EngineId::Piper && piper::BUNDLED.contains(&id) {
            return Err(CatalogError::Conflict(format!(
                "{id} comes with Murmur's Piper engine and cannot be removed"
            )));
        }
        let files = installed_files(engine, &dir, id);
        if files.is_empty() {
            return Err(CatalogError::NotFound(format!(
                "no installed {} voice {id:?}",
                engine.as_str()
            )));
        }
        // The model first, so the engine never sees a voice without it.
        for file in files {
            std::fs::remove_file(&file)
                .map_err(|e| CatalogError::unavailable(format!("{}: ", file.display()), e))?;
        }
        self.0.generation.fetch_add(1, Ordering::SeqCst);
        self.0.installs.send_modify(|installs| {
            installs.retain(|i| !(i.voice == id && i.engine == engine));
        });
        Ok(())
    }
}
