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
        let engine = crate::engine::transcriber(settings.transcription.engine).spec();
        let models: Vec<Value> = crate::engine::whisper::listing(&settings, data_dir)
            .into_iter()
            .filter(|m| m.configured)
            .map(|m| {
                json!({
                    "name": m.name,
                    "attribution": attribution,
                    "installed": m.installed,
                    "description": m.source,
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
            "supports_transcript_streaming": false,
        }]);
    }
    info
}
