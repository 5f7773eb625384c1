//! Which voices are installed: the files of a voice in an engine's voices folder, and MLX
//! Audio's voices, which come with its model (the `voices/` folder of the model, in the
//! Hugging Face cache or a local model folder).

use std::path::{Path, PathBuf};

use crate::config::{EngineId, Settings};
use crate::voices::{CatalogVoice, kokoro, piper};

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

/// Installed voices the index does not list (it could not be fetched, or no longer has them),
/// and Piper's packaged voice: what is installed is always shown, so it can be used and removed.
pub(super) fn unlisted(engine: EngineId, dir: &Path, listed: &[CatalogVoice]) -> Vec<CatalogVoice> {
    let mut ids: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            match engine {
                EngineId::Piper => name.strip_suffix(".onnx").map(String::from),
                EngineId::Kokoro => name.strip_suffix(".bin").map(String::from),
                _ => None,
            }
        })
        .filter(|id| safe_id(id) && is_installed(engine, dir, id))
        .collect();
    if engine == EngineId::Piper {
        ids.extend(piper::BUNDLED.iter().map(|id| id.to_string()));
    }
    ids.sort();
    ids.dedup();
    ids.retain(|id| !listed.iter().any(|e| &e.id == id));
    ids.iter()
        .map(|id| match engine {
            EngineId::Kokoro => CatalogVoice {
                installed: true,
                ..kokoro::entry(id, None)
            },
            _ => piper::local_entry(id),
        })
        .collect()
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
pub(super) fn mlx_voices(settings: &Settings) -> Vec<CatalogVoice> {
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
            CatalogVoice {
                id: id.clone(),
                voice: id.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_voices_are_listed_without_an_index() {
        let dir = tempfile::tempdir().expect("temp dir");
        for name in [
            "de_DE-thorsten-medium.onnx",
            "de_DE-thorsten-medium.onnx.json",
        ] {
            std::fs::write(dir.path().join(name), b"x").expect("write");
        }
        // Half a voice is not one.
        std::fs::write(dir.path().join("fr_FR-siwis-low.onnx"), b"x").expect("write");
        let piper = unlisted(EngineId::Piper, dir.path(), &[]);
        let ids: Vec<&str> = piper.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["de_DE-thorsten-medium", "en_US-joe-medium"]);
        assert_eq!(
            (piper[0].voice.as_str(), piper[0].language.as_deref()),
            ("thorsten", Some("de-DE"))
        );
        assert!(piper.iter().all(|e| e.installed));
        assert_eq!(
            piper.iter().map(|e| e.removable).collect::<Vec<_>>(),
            [true, false]
        );
        // Listed ones are not repeated.
        let again = unlisted(EngineId::Piper, dir.path(), &piper[..1]);
        assert_eq!(again.len(), 1);

        std::fs::write(dir.path().join("zf_xiaobei.bin"), b"x").expect("write");
        let kokoro = unlisted(EngineId::Kokoro, dir.path(), &[]);
        assert_eq!(kokoro.len(), 1);
        assert_eq!(kokoro[0].language.as_deref(), Some("zh"));
        assert!(kokoro[0].installed && kokoro[0].removable);
    }
}
