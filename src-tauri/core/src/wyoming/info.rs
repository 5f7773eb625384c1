//! `info`: what Murmur's Wyoming server offers — the speech engine's installed voices with their
//! languages, and the transcription model with its.

use std::path::Path;

use serde_json::{Value, json};

use crate::proxy::ProxyState;

/// Where the attribution of Murmur's programs points.
const ATTRIBUTION: &str = "https://github.com/murmur-dev/murmur";

/// `info`: the speech engine's installed voices with their languages, and the
/// transcription model with its.
pub(super) async fn info(state: &ProxyState, data_dir: &Path) -> Value {
    let settings = state.live().get();
    let attribution = json!({ "name": "Murmur", "url": ATTRIBUTION });
    let version = env!("CARGO_PKG_VERSION");
    let speech = crate::engine::spec(settings.engine.id);
    let voices: Vec<Value> = match crate::proxy::installed_voices(state).await {
        Ok(Some(voices)) => voices
            .iter()
            .map(|v| {
                json!({
                    "name": v.id,
                    "attribution": attribution,
                    "installed": true,
                    "description": v.name,
                    "version": null,
                    "languages": v.language.iter().map(|l| l.replace('-', "_")).collect::<Vec<_>>(),
                    "speakers": null,
                })
            })
            .collect(),
        _ => crate::engine::effective_voice(&settings)
            .map(|voice| {
                json!({
                    "name": voice, "attribution": attribution, "installed": true,
                    "description": voice, "version": null, "languages": [], "speakers": null,
                })
            })
            .into_iter()
            .collect(),
    };
    let mut info = json!({
        "tts": [{
            "name": format!("murmur-{}", speech.id),
            "attribution": attribution,
            "installed": true,
            "description": format!("{} through Murmur", speech.display_name),
            "version": version,
            "voices": voices,
            "supports_synthesize_streaming": true,
        }],
        "asr": [],
    });
    if state.has_transcription() {
        let engine = crate::engine::transcription_engine(settings.transcription.engine).spec();
        // The catalog's listing stats model folders on disk: off the async workers.
        let (listed_settings, dir) = (settings.clone(), data_dir.to_path_buf());
        // A model in a folder of the user's is named by the folder, never by its path: a
        // client on the network learns nothing of this machine's files.
        let listing = tokio::task::spawn_blocking(move || {
            crate::engine::whisper::listing(&listed_settings, &dir)
                .into_iter()
                .filter(|m| m.configured)
                .map(|m| (model_name(&m.name), m))
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        let models: Vec<Value> = listing
            .into_iter()
            .map(|(name, m)| {
                json!({
                    "name": name,
                    "attribution": attribution,
                    "installed": m.installed,
                    "description": format!("Whisper {name}"),
                    "version": null,
                    "languages": m.languages,
                })
            })
            .collect();
        info["asr"] = json!([{
            "name": format!("murmur-{}", engine.id),
            "attribution": attribution,
            "installed": true,
            "description": format!("{} through Murmur", engine.display_name),
            "version": version,
            "models": models,
            "supports_transcript_streaming": crate::live::engine_streams(state),
        }]);
    }
    info
}

/// What Wyoming calls a model: a catalog name or Hub repository as it is, a folder by its
/// last component. (Blocking: whether a name is a folder may take a look at the disk.)
fn model_name(configured: &str) -> String {
    match crate::engine::whisper::source(configured) {
        crate::engine::whisper::ModelSource::Folder(dir) => dir
            .file_name()
            .map_or_else(|| "whisper".into(), |n| n.to_string_lossy().into_owned()),
        crate::engine::whisper::ModelSource::Hub { .. } => configured.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_folder_model_is_named_by_its_folder_never_its_path() {
        assert_eq!(
            super::model_name("/home/ana/models/whisper-small"),
            "whisper-small"
        );
        assert_eq!(super::model_name("./models/mine"), "mine");
        assert_eq!(super::model_name("base"), "base");
        assert_eq!(
            super::model_name("Systran/faster-whisper-base"),
            "Systran/faster-whisper-base"
        );
    }
}
