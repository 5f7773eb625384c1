//! MLX Audio (`mlx_audio.server`) on Apple Silicon: Kokoro and other models on the GPU. It
//! is asked for WAV (no ffmpeg needed), and its model is fetched before it starts, with byte
//! progress, so a missing model is a visible download and not a silent wait.

use std::path::PathBuf;

use futures_util::future::BoxFuture;

use super::{
    Engine, EngineSpec, Launch, Place, Preparation, PrepareError, bundled_launch, bundled_project,
};
use crate::audio::EngineAudio;
use crate::config::{EngineId, Settings};

pub struct MlxAudio;

impl Engine for MlxAudio {
    fn spec(&self) -> EngineSpec {
        EngineSpec {
            id: EngineId::MlxAudio,
            display_name: "MLX Audio",
            default_model: Some("mlx-community/Kokoro-82M-bf16"),
            default_voice: Some("af_heart"),
        }
    }

    fn audio(&self, _settings: &Settings) -> EngineAudio {
        EngineAudio::Wav
    }

    fn python_project(&self, _settings: &Settings) -> Option<(PathBuf, String)> {
        Some(bundled_project("mlx-audio"))
    }

    fn launch(&self, settings: &Settings, place: &Place<'_>) -> Option<Launch> {
        let runtime = place.runtime?;
        let (project, _) = self.python_project(settings)?;
        let logs = place.data_dir.join("logs").to_string_lossy().into_owned();
        let args = [
            "mlx_audio.server",
            "--host",
            place.host,
            "--port",
            &place.port.to_string(),
            "--log-dir",
            &logs,
        ]
        .map(String::from)
        .to_vec();
        Some(bundled_launch(runtime, &project, args))
    }

    fn memory_estimate_mb(&self, settings: &Settings) -> Option<u64> {
        let model = settings
            .engine
            .model
            .as_deref()
            .unwrap_or("")
            .to_ascii_lowercase();
        Some(if model.contains("kokoro") || model.is_empty() {
            400
        } else if model.contains("0.6b") {
            1400
        } else if model.contains("1.7b") {
            3800
        } else {
            800
        })
    }

    /// mlx-audio loads its model from the Hugging Face cache: fetch it first.
    fn prepare<'a>(&self, p: Preparation<'a>) -> BoxFuture<'a, Result<(), PrepareError>> {
        Box::pin(async move {
            let model = super::effective_model(p.settings).unwrap_or_default();
            let python_path = format!("{}:{}", p.runtime.dir.display(), p.project.display());
            super::model::fetch(&p.runtime.python, &python_path, &model, p.progress, p.log)
                .await
                .map_err(|e| PrepareError {
                    message: e.message,
                    hint: e.hint,
                })
        })
    }
}
