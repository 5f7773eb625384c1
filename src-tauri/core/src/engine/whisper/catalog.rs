//! The models Whisper can use: faster-whisper's catalog, what `[transcription] model` names
//! (a catalog name, a Hub repository, a folder), and which are installed.

use std::path::{Path, PathBuf};

use crate::config::Settings;

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

pub(super) const MB: u64 = 1_000_000;

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
pub(super) const STAMP: &str = ".murmur-model.json";

pub(super) fn is_model_folder(dir: &Path) -> bool {
    dir.join("model.bin").is_file() && dir.join("config.json").is_file()
}

/// The files faster-whisper reads from a model folder.
pub(super) fn wanted(path: &str) -> bool {
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
