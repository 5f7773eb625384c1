//! Which voices are installed: the files of a voice in an engine's voices folder, and MLX
//! Audio's voices, which come with its model (the `voices/` folder of the model, in the
//! Hugging Face cache or a local model folder).

use std::path::{Path, PathBuf};

use crate::config::{EngineId, Settings};
use crate::voices::{Entry, piper};

/// The files of installed voice `id` in `dir`, the one the engine looks for first.
pub(super) fn installed_files(engine: EngineId, dir: &Path, id: &str) -> Vec<PathBuf> {
    if !safe_id(id) {
        return Vec::new();
    }
    let names: Vec<String> = match engine {
        EngineId::Piper => vec![format!("{id}.onnx"), format!("{id}.onnx.json")],
        EngineId::Kokoro => vec![format!("{id}.bin")],
        _ => Vec::new(),
    };
    names
        .into_iter()
        .map(|name| dir.join(name))
        .filter(|path| path.is_file())
        .collect()
}

pub(super) fn is_installed(engine: EngineId, dir: &Path, id: &str) -> bool {
    match engine {
        EngineId::Piper => {
            piper::BUNDLED.contains(&id) || installed_files(engine, dir, id).len() == 2
        }
        _ => !installed_files(engine, dir, id).is_empty(),
    }
}

/// Ids name files: no separators, no leading dot.
fn safe_id(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// MLX Audio's voices: the `voices/` folder of its model, in the Hugging Face cache (or the
/// model's own folder when it is a path).
pub(super) fn mlx_voices(settings: &Settings) -> Vec<Entry> {
    let model = crate::engine::effective_model(settings).unwrap_or_default();
    let mut folders = vec![Path::new(&model).join("voices")];
    let hf_home = std::env::var_os("HF_HOME")
        .map(PathBuf::from)
        .or_else(|| directories::BaseDirs::new().map(|d| d.home_dir().join(".cache/huggingface")));
    if let Some(home) = hf_home {
        let repo = home
            .join("hub")
            .join(format!("models--{}", model.replace('/', "--")))
            .join("snapshots");
        if let Ok(snapshots) = std::fs::read_dir(repo) {
            folders.extend(snapshots.flatten().map(|s| s.path().join("voices")));
        }
    }
    let mut ids: Vec<String> = folders
        .iter()
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flat_map(|entries| entries.flatten())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".safetensors").map(String::from)
        })
        .collect();
    ids.sort();
    ids.dedup();
    ids.iter()
        .map(|id| {
            let language = crate::language::kokoro_language(id).map(String::from);
            Entry {
                id: id.clone(),
                name: id.clone(),
                language,
                gender: None,
                quality: None,
                size: None,
                installed: true,
                removable: false,
            }
        })
        .collect()
}
