//! Whisper on CTranslate2 (`python-runtime/whisper`, Murmur's own server over faster-whisper):
//! the transcription engine on every platform. int8 on the CPU, Silero VAD on.
//!
//! `[transcription] model` is a catalog name (`base`, `tiny.en`, `large-v3-turbo`, …), a Hub
//! repository id in faster-whisper's layout, or a folder on disk in that layout (model.bin,
//! config.json, tokenizer.json, vocabulary.*). Hub models are fetched in warm-up by Murmur's
//! own verified fetch: the repository's `main` is resolved to a commit once, every file is
//! then taken at that commit, checked against the digest the Hub lists for it (the LFS
//! sha256, or the git blob id of a small file), resumed when interrupted and renamed into
//! place whole; the folder counts as installed once a stamp naming the commit is written.

use std::path::{Path, PathBuf};

use futures_util::future::BoxFuture;
use serde::Deserialize;

use super::{Engine, EngineSpec, Launch, Place, Preparation, Project, bundled_launch};
use crate::config::Settings;
use crate::problem::{Problem, Stage};
use crate::runtime::download::DownloadPolicy;
use crate::runtime::fetch::{self, Cancel, FetchError};
use crate::runtime::hub::TreeEntry;

pub struct Whisper;

/// A model of the catalog.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct CatalogModel {
    pub name: &'static str,
    pub repo: &'static str,
    /// Bytes on disk, roughly (model.bin dominates).
    pub size: u64,
    /// English only (`.en`), or every language Whisper knows.
    pub english_only: bool,
    /// Engine seconds per second of audio on two CPU cores (int8, beam 1), roughly: the
    /// catalog's speed until Murmur has measured the model on this machine.
    pub cpu_secs_per_audio_sec: f64,
}

const MB: u64 = 1_000_000;

/// The models faster-whisper's own names point at (its `utils._MODELS`).
pub const CATALOG: [CatalogModel; 11] = [
    model("tiny", "Systran/faster-whisper-tiny", 75, false, 0.05),
    model("tiny.en", "Systran/faster-whisper-tiny.en", 75, true, 0.05),
    model("base", "Systran/faster-whisper-base", 145, false, 0.1),
    model("base.en", "Systran/faster-whisper-base.en", 145, true, 0.1),
    model("small", "Systran/faster-whisper-small", 484, false, 0.35),
    model(
        "small.en",
        "Systran/faster-whisper-small.en",
        484,
        true,
        0.35,
    ),
    model("medium", "Systran/faster-whisper-medium", 1530, false, 1.0),
    model(
        "medium.en",
        "Systran/faster-whisper-medium.en",
        1530,
        true,
        1.0,
    ),
    model(
        "large-v3",
        "Systran/faster-whisper-large-v3",
        3090,
        false,
        2.0,
    ),
    model(
        "large-v3-turbo",
        "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
        1620,
        false,
        0.9,
    ),
    model(
        "distil-large-v3",
        "Systran/faster-distil-whisper-large-v3",
        1510,
        true,
        0.8,
    ),
];

const fn model(
    name: &'static str,
    repo: &'static str,
    mb: u64,
    english_only: bool,
    cpu_secs_per_audio_sec: f64,
) -> CatalogModel {
    CatalogModel {
        name,
        repo,
        size: mb * MB,
        english_only,
        cpu_secs_per_audio_sec,
    }
}

/// The catalog's entry named `name` (by its name or its repository).
pub fn catalog_model(name: &str) -> Option<&'static CatalogModel> {
    CATALOG.iter().find(|m| m.name == name || m.repo == name)
}

/// Where a configured model comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// A folder the user already has.
    Folder(PathBuf),
    /// A Hub repository, fetched into `<data-dir>/models/whisper/`.
    Hub { repo: String },
}

/// What `[transcription] model` names.
pub fn source(model: &str) -> ModelSource {
    let model = model.trim();
    if let Some(entry) = CATALOG.iter().find(|m| m.name == model) {
        return ModelSource::Hub {
            repo: entry.repo.to_string(),
        };
    }
    let path = Path::new(model);
    if path.is_absolute() || model.starts_with('.') || model.starts_with('~') || path.is_dir() {
        return ModelSource::Folder(expand_home(model));
    }
    ModelSource::Hub {
        repo: model.to_string(),
    }
}

fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// `<data-dir>/models/whisper/<org>--<name>`.
pub fn hub_dir(data_dir: &Path, repo: &str) -> PathBuf {
    data_dir
        .join("models")
        .join("whisper")
        .join(repo.replace('/', "--"))
}

/// The folder the engine loads for `settings`.
pub fn model_dir(settings: &Settings, data_dir: &Path) -> PathBuf {
    match source(&configured_model(settings)) {
        ModelSource::Folder(dir) => dir,
        ModelSource::Hub { repo } => hub_dir(data_dir, &repo),
    }
}

/// The model `settings` name (`base` when none is named).
pub fn configured_model(settings: &Settings) -> String {
    settings
        .transcription
        .model
        .as_deref()
        .map_or("base", str::trim)
        .to_string()
}

/// Every language multilingual Whisper models know (their tokenizer's codes; `yue` since
/// large-v3). English-only models (`.en`, distil-large-v3) know `en` alone.
pub const LANGUAGES: [&str; 100] = [
    "en", "zh", "de", "es", "ru", "ko", "fr", "ja", "pt", "tr", "pl", "ca", "nl", "ar", "sv", "it",
    "id", "hi", "fi", "vi", "he", "uk", "el", "ms", "cs", "ro", "da", "hu", "ta", "no", "th", "ur",
    "hr", "bg", "lt", "la", "mi", "ml", "cy", "sk", "te", "fa", "lv", "bn", "sr", "az", "sl", "kn",
    "et", "mk", "br", "eu", "is", "hy", "ne", "mn", "bs", "kk", "sq", "sw", "gl", "mr", "pa", "si",
    "km", "sn", "yo", "so", "af", "oc", "ka", "be", "tg", "sd", "gu", "am", "yi", "lo", "uz", "fo",
    "ht", "ps", "tk", "nn", "mt", "sa", "lb", "my", "bo", "tl", "mg", "as", "tt", "haw", "ln",
    "ha", "ba", "jw", "su", "yue",
];

/// One model as the catalog API lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Listed {
    /// What `[transcription] model` is set to for it.
    pub name: String,
    /// Its Hub repository, or the folder it is in.
    pub source: String,
    /// Bytes on disk: measured when installed, else the catalog's figure (unknown for a
    /// model outside the catalog until it is fetched).
    pub size_bytes: Option<u64>,
    pub english_only: bool,
    /// The language codes it transcribes.
    pub languages: Vec<&'static str>,
    pub installed: bool,
    /// The model `[transcription] model` names now.
    pub configured: bool,
}

/// The catalog with what is installed under `data_dir`, and the configured model first when
/// it is not one of the catalog's (a Hub repository or a folder of the user's).
pub fn listing(settings: &Settings, data_dir: &Path) -> Vec<Listed> {
    let configured = configured_model(settings);
    let languages = |english_only: bool| {
        if english_only {
            vec!["en"]
        } else {
            LANGUAGES.to_vec()
        }
    };
    let mut listed: Vec<Listed> = CATALOG
        .iter()
        .map(|m| {
            let dir = hub_dir(data_dir, m.repo);
            let installed = is_installed(&dir);
            Listed {
                name: m.name.into(),
                source: m.repo.into(),
                size_bytes: Some(if installed { folder_size(&dir) } else { m.size }),
                english_only: m.english_only,
                languages: languages(m.english_only),
                installed,
                configured: m.name == configured || m.repo == configured,
            }
        })
        .collect();
    if !listed.iter().any(|m| m.configured) {
        let (source, dir, installed) = match source(&configured) {
            ModelSource::Folder(dir) => {
                let installed = is_model_folder(&dir);
                (dir.display().to_string(), dir, installed)
            }
            ModelSource::Hub { repo } => {
                let dir = hub_dir(data_dir, &repo);
                (repo, dir.clone(), is_installed(&dir))
            }
        };
        let english_only = configured.ends_with(".en");
        listed.insert(
            0,
            Listed {
                name: configured,
                source,
                size_bytes: installed.then(|| folder_size(&dir)),
                english_only,
                languages: languages(english_only),
                installed,
                configured: true,
            },
        );
    }
    listed
}

/// A fetched model counts once its stamp is in.
pub fn is_installed(dir: &Path) -> bool {
    is_model_folder(dir) && dir.join(STAMP).is_file()
}

fn folder_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Written into a Hub model's folder once every file is in place.
const STAMP: &str = ".murmur-model.json";

fn is_model_folder(dir: &Path) -> bool {
    dir.join("model.bin").is_file() && dir.join("config.json").is_file()
}

/// The files faster-whisper reads from a model folder.
fn wanted(path: &str) -> bool {
    matches!(
        path,
        "model.bin"
            | "config.json"
            | "tokenizer.json"
            | "vocabulary.txt"
            | "vocabulary.json"
            | "preprocessor_config.json"
    )
}

impl Engine for Whisper {
    fn spec(&self) -> EngineSpec {
        EngineSpec {
            id: "whisper",
            display_name: "Whisper",
            default_model: Some("base"),
            default_voice: None,
        }
    }

    fn served_paths(&self) -> Option<&'static [&'static str]> {
        Some(&["/health", TRANSCRIBE_PATH])
    }

    fn prepares(&self) -> &'static [Stage] {
        &[Stage::Model]
    }

    fn python_project(&self, _settings: &Settings) -> Option<Project> {
        Some(Project::Bundled("whisper"))
    }

    fn launch(&self, settings: &Settings, place: &Place<'_>) -> Option<Launch> {
        let runtime = place.runtime?;
        let project = place.project?;
        let args = vec![
            "murmur_whisper_server".to_string(),
            "--host".into(),
            place.host.into(),
            "--port".into(),
            place.port.to_string(),
            "--model".into(),
            model_dir(settings, place.data_dir)
                .to_string_lossy()
                .into_owned(),
        ];
        let mut launch = bundled_launch(runtime, project, args);
        launch.probe_path = "/health".into();
        Some(launch)
    }

    /// Measured on Linux x86-64 with int8: ~350 MB RSS with base after a few requests; the
    /// larger models add their weights.
    fn memory_estimate_mb(&self, settings: &Settings) -> Option<u64> {
        let model = configured_model(settings);
        let weights = CATALOG
            .iter()
            .find(|m| m.name == model.as_str())
            .map_or(500, |m| m.size / MB);
        Some(250 + weights)
    }

    fn prepare<'a>(&self, p: Preparation<'a>) -> BoxFuture<'a, Result<(), Problem>> {
        Box::pin(async move {
            match source(&configured_model(p.settings)) {
                ModelSource::Folder(dir) if is_model_folder(&dir) => Ok(()),
                ModelSource::Folder(dir) => Err(Problem::new(format!(
                        "{} is not a Whisper model folder (it needs model.bin and config.json)",
                        dir.display()
                    )).hint("point [transcription] model at a folder in faster-whisper's layout, or name a catalog model such as base")),
                ModelSource::Hub { repo } => {
                    fetch_model(
                        &p.settings.runtime.huggingface_url,
                        &repo,
                        &hub_dir(p.data_dir, &repo),
                        p.progress,
                        p.log,
                        &Cancel::default(),
                    )
                    .await
                }
            }
        })
    }

    fn spawn_hint(&self) -> &'static str {
        "Murmur's Python environment for transcription may be damaged: restart it to check it again"
    }
}

/// Murmur's own route: 16 kHz PCM in, segments out as they are decided.
impl super::TranscriptionEngine for Whisper {
    fn transcribes_with(&self) -> super::Transcribes {
        super::Transcribes::MurmurPcm
    }
}

/// Where Murmur's Whisper server takes 16 kHz PCM.
pub const TRANSCRIBE_PATH: &str = "/v1/murmur/transcribe";

#[derive(Deserialize)]
struct RepoInfo {
    sha: String,
}

const OFFLINE_HINT: &str = "connect to the internet once, set [runtime] huggingface_url to a \
     mirror, or point [transcription] model at a model folder";

/// The Hub's listings are small; a larger answer is not the Hub.
const MAX_LISTING: usize = 4 * 1024 * 1024;

/// Fetch repository `repo` into `dest` (see the module docs), unless it is there. Unlike a
/// voice (`voices::download`, all files or none), a model's finished files stay when a later
/// one fails: a 3 GB model resumes where it stopped, and the stamp says when it is whole.
pub async fn fetch_model(
    hub: &str,
    repo: &str,
    dest: &Path,
    progress: &crate::runtime::Progress,
    log: &(dyn Fn(&str) + Send + Sync),
    cancel: &Cancel,
) -> Result<(), Problem> {
    // One fetch per folder at a time: the page's Install and the engine's warm-up may ask
    // for the same model at once; the second waits, then finds it installed.
    let folder = folder_lock(dest);
    let _fetching = folder.lock().await;
    if dest.join(STAMP).is_file() {
        return Ok(());
    }
    let hub = hub.trim_end_matches('/');
    let unreachable = |why: String| {
        Problem::new(format!(
            "the Whisper model {repo} could not be downloaded: {why}"
        ))
        .hint(OFFLINE_HINT)
    };
    progress.stage(Stage::Model, format!("looking up the model {repo}"));
    let info = get_json::<RepoInfo>(&format!("{hub}/api/models/{repo}/revision/main"))
        .await
        .map_err(unreachable)?;
    let tree = get_json::<Vec<TreeEntry>>(&format!("{hub}/api/models/{repo}/tree/{}", info.sha))
        .await
        .map_err(unreachable)?;
    let files: Vec<TreeEntry> = tree
        .into_iter()
        .filter(|f| f.is_file() && wanted(&f.path))
        .collect();
    if !files.iter().any(|f| f.path == "model.bin") {
        return Err(Problem::new(format!(
            "{repo} is not a faster-whisper model: it has no model.bin"
        ))
        .hint(
            "name a catalog model (tiny, base, small, large-v3-turbo, …) or a repository in \
             CTranslate2's format",
        ));
    }
    let total: u64 = files.iter().map(|f| f.size).sum();
    room_for(repo, dest, total)?;
    let message = format!("downloading the Whisper model {repo}");
    let mut before = 0;
    for file in &files {
        let digest = file.digest();
        let source = format!("{hub}/{repo}/resolve/{}/{}", info.sha, file.path);
        let report = |done: u64, _total: Option<u64>| {
            progress.bytes(
                Stage::Model,
                &message,
                before + done.min(file.size),
                Some(total),
            );
        };
        fetch::fetch(fetch::Request {
            source: &source,
            dest: &dest.join(&file.path),
            digest: &digest,
            size: Some(file.size),
            policy: &DownloadPolicy::default(),
            progress: &report,
            cancel,
        })
        .await
        .map_err(|e| match e {
            FetchError::Mismatch(why) => {
                Problem::new(format!("the Whisper model {repo}: {}: {why}", file.path)).hint(
                    "the download was damaged or the mirror serves other files: restart \
                 transcription to fetch it again",
                )
            }
            e @ FetchError::Disk { .. } => {
                Problem::new(format!("the Whisper model cannot be written: {e}"))
                    .hint(format!("check free disk space ({} MB needed)", total / MB))
            }
            other => unreachable(other.to_string()),
        })?;
        before += file.size;
    }
    let stamp = serde_json::json!({ "repo": repo, "revision": info.sha });
    fs_err::write(dest.join(STAMP), stamp.to_string()).map_err(|e| {
        Problem::new(format!("the Whisper model cannot be written: {e}"))
            .hint("check that Murmur's data folder is writable")
    })?;
    log(&format!(
        "[murmur] Whisper model {repo} (commit {}) installed in {}",
        info.sha,
        dest.display()
    ));
    Ok(())
}

/// The largest model Murmur downloads: large-v3 in float32 is 3.1 GB; a listing that claims
/// more is not a Whisper model.
const MAX_MODEL_BYTES: u64 = 16_000 * MB;

/// Free space Murmur leaves on the disk after a download.
const DISK_MARGIN: u64 = 200 * MB;

/// Whether `total` bytes of `repo` may be downloaded into `dest`: no more than any Whisper
/// model is, and no more than the disk has free (less what is already there, which a resume
/// keeps). Checked before the first byte.
fn room_for(repo: &str, dest: &Path, total: u64) -> Result<(), Problem> {
    if total > MAX_MODEL_BYTES {
        return Err(Problem::new(format!(
            "the Hub lists {repo} at {} MB, more than any Whisper model ({} MB); it was not downloaded",
            total / MB,
            MAX_MODEL_BYTES / MB
        ))
        .hint("name a catalog model (tiny, base, small, large-v3-turbo, …)"));
    }
    let have = folder_bytes_including_parts(dest);
    let need = total.saturating_sub(have);
    if let Some(free) = crate::runtime::fetch::free_space(dest)
        && free < need.saturating_add(DISK_MARGIN)
    {
        return Err(Problem::new(format!(
            "the Whisper model {repo} needs {} MB and the disk has {} MB free",
            need / MB,
            free / MB
        ))
        .hint("free some disk space, or choose a smaller model"));
    }
    Ok(())
}

/// Bytes already in `dest`, finished files and partial ones.
fn folder_bytes_including_parts(dest: &Path) -> u64 {
    std::fs::read_dir(dest).map_or(0, |entries| {
        entries
            .flatten()
            .filter_map(|e| e.metadata().ok())
            .filter(std::fs::Metadata::is_file)
            .map(|m| m.len())
            .sum()
    })
}

/// The folder's fetch lock, if no fetch holds it now.
pub fn try_lock_folder(dest: &Path) -> Option<tokio::sync::OwnedMutexGuard<()>> {
    folder_lock(dest).try_lock_owned().ok()
}

/// The lock of one model folder (kept for the life of the process: a few per model fetched).
fn folder_lock(dest: &Path) -> std::sync::Arc<tokio::sync::Mutex<()>> {
    static FOLDERS: std::sync::LazyLock<
        std::sync::Mutex<
            std::collections::HashMap<PathBuf, std::sync::Arc<tokio::sync::Mutex<()>>>,
        >,
    > = std::sync::LazyLock::new(Default::default);
    FOLDERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .entry(dest.to_path_buf())
        .or_default()
        .clone()
}

async fn get_json<T: serde::de::DeserializeOwned>(url: &str) -> Result<T, String> {
    let body = crate::voices::get(url).await?;
    if body.len() > MAX_LISTING {
        return Err(format!(
            "{url} answered {} bytes, not a listing",
            body.len()
        ));
    }
    serde_json::from_slice(&body).map_err(|e| format!("{url} is not the Hub's API: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_setting_is_a_catalog_name_a_repository_or_a_folder() {
        assert_eq!(
            source("base"),
            ModelSource::Hub {
                repo: "Systran/faster-whisper-base".into()
            }
        );
        assert_eq!(
            source("large-v3-turbo"),
            ModelSource::Hub {
                repo: "mobiuslabsgmbh/faster-whisper-large-v3-turbo".into()
            }
        );
        assert_eq!(
            source("me/my-whisper"),
            ModelSource::Hub {
                repo: "me/my-whisper".into()
            }
        );
        assert_eq!(
            source("/opt/models/whisper-small"),
            ModelSource::Folder("/opt/models/whisper-small".into())
        );
        let dir = tempfile::tempdir().expect("tmp");
        let relative = dir.path().to_string_lossy().into_owned();
        assert_eq!(source(&relative), ModelSource::Folder(dir.path().into()));
    }

    #[test]
    fn hub_models_live_in_the_data_folder() {
        assert_eq!(
            hub_dir(Path::new("/d"), "Systran/faster-whisper-base"),
            Path::new("/d/models/whisper/Systran--faster-whisper-base")
        );
    }

    /// A Hub stand-in on loopback whose listing claims `size` bytes for model.bin.
    async fn hub_claiming(size: u64) -> String {
        use axum::routing::get;
        let app = axum::Router::new()
            .route(
                "/api/models/{owner}/{name}/revision/main",
                get(|| async { axum::Json(serde_json::json!({"sha": "abc123"})) }),
            )
            .route(
                "/api/models/{owner}/{name}/tree/abc123",
                get(move || async move {
                    axum::Json(serde_json::json!([
                        {"type": "file", "path": "config.json", "size": 2, "oid": "x"},
                        {"type": "file", "path": "model.bin", "size": size, "oid": "y",
                         "lfs": {"oid": "00"}},
                    ]))
                }),
            )
            .fallback(|| async { (http::StatusCode::IM_A_TEAPOT, "no file is fetched") });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    #[tokio::test]
    async fn a_listing_that_claims_more_than_any_model_or_the_disk_is_not_downloaded() {
        let dir = tempfile::tempdir().expect("temp");
        let dest = dir.path().join("models/whisper/x--huge");
        let progress = crate::runtime::Progress::new(|_| {});
        let cancel = Cancel::default();
        // 10 TB: no Whisper model is; refused before a byte.
        let hub = hub_claiming(10_000_000_000_000).await;
        let refused = fetch_model(&hub, "x/huge", &dest, &progress, &|_| {}, &cancel)
            .await
            .expect_err("refused");
        assert!(
            refused.message.contains("more than any Whisper model"),
            "{refused:?}"
        );
        assert!(!dest.join("model.bin").exists() && !dest.join("model.bin.part").exists());
        // Within the cap, but more than this disk has free (less the margin).
        let free = crate::runtime::fetch::free_space(dir.path()).expect("statvfs");
        if free < MAX_MODEL_BYTES {
            let hub = hub_claiming(free).await;
            let refused = fetch_model(&hub, "x/big", &dest, &progress, &|_| {}, &cancel)
                .await
                .expect_err("refused");
            assert!(refused.message.contains("MB free"), "{refused:?}");
        }
    }

    #[tokio::test]
    async fn an_unreachable_hub_is_said_plainly_with_the_causes_left_to_the_log() {
        let dir = tempfile::tempdir().expect("temp");
        // A port nothing listens on.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", closed.local_addr().expect("addr"));
        drop(closed);
        let problem = fetch_model(
            &url,
            "Systran/faster-whisper-tiny",
            &dir.path().join("m"),
            &crate::runtime::Progress::new(|_| {}),
            &|_| {},
            &Cancel::default(),
        )
        .await
        .expect_err("unreachable");
        assert!(
            problem
                .message
                .contains("Murmur could not reach 127.0.0.1 — is this computer offline?"),
            "{problem:?}"
        );
        assert!(
            !problem.message.contains("error sending request"),
            "{problem:?}"
        );
    }
}
