//! The transcription models behind the page's catalog: what `GET
//! /murmur/api/transcription-models` lists (each model with its speed here and this run's
//! install, and the machine's recommended one) and the install/cancel/remove actions.

use crate::api_error::{ApiError, Code};

/// `GET /murmur/api/transcription-models`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TranscriptionModels {
    /// The transcription engine (`whisper`, `mlx-audio`, …, `off`).
    pub engine: &'static str,
    /// The model requests are transcribed with.
    pub model: Option<String>,
    /// The language requests that name none are read in (`None`: detected).
    pub language: Option<String>,
    /// The catalog model that fits this machine best (its memory and cores).
    pub recommended: &'static str,
    pub models: Vec<ModelEntry>,
}

/// A model of [`TranscriptionModels`]: what it is, how fast it runs here, its install.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelEntry {
    #[serde(flatten)]
    pub model: crate::engine::whisper::Listed,
    pub speed: Option<crate::catalog::models::ModelSpeed>,
    /// This run's install of it, if any (a finished one included).
    pub install: Option<crate::catalog::models::ModelInstall>,
}

/// What to do with a transcription model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelAction {
    Install,
    Cancel,
    Remove,
}

impl std::str::FromStr for ModelAction {
    type Err = ApiError;

    fn from_str(action: &str) -> Result<Self, ApiError> {
        match action {
            "install" => Ok(Self::Install),
            "cancel" => Ok(Self::Cancel),
            "remove" => Ok(Self::Remove),
            other => Err(ApiError::not_found(format!(
                "no model action {other:?}; use install, cancel or remove"
            ))),
        }
    }
}

impl super::Control {
    /// What the transcription engine can use: Whisper's catalog with what is installed, how
    /// fast each runs here and this run's installs, or for another engine the model it is
    /// configured with. (Sizes are measured on disk and memory read from the system: on a
    /// blocking thread.)
    pub async fn transcription_models(&self) -> TranscriptionModels {
        let control = self.clone();
        tokio::task::spawn_blocking(move || control.list_transcription_models())
            .await
            .expect("invariant: listing the models does not panic")
    }

    fn list_transcription_models(&self) -> TranscriptionModels {
        use crate::config::TranscriptionEngineId;
        let settings = self.0.live.get();
        let t = &settings.transcription;
        let listed = match t.engine {
            TranscriptionEngineId::Whisper => {
                crate::engine::whisper::listing(&settings, &self.0.data_dir)
            }
            TranscriptionEngineId::Off => Vec::new(),
            _ => t
                .effective_model()
                .map(|name| crate::engine::whisper::Listed {
                    source: name.clone(),
                    english_only: name.ends_with(".en"),
                    languages: crate::engine::whisper::LANGUAGES.to_vec(),
                    name,
                    size_bytes: None,
                    installed: false,
                    configured: true,
                })
                .into_iter()
                .collect(),
        };
        let measured = self.0.metrics.speeds();
        let installs = self.0.models.installs();
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let models = listed
            .into_iter()
            .map(|model| ModelEntry {
                speed: crate::catalog::models::speed(&model.name, &model.source, &measured, cores),
                install: installs.get(&model.source).cloned(),
                model,
            })
            .collect();
        let mut system = sysinfo::System::new();
        system.refresh_memory();
        let apple_silicon = cfg!(all(target_os = "macos", target_arch = "aarch64"));
        TranscriptionModels {
            engine: t.engine.as_str(),
            model: t.effective_model(),
            language: t.language.clone(),
            recommended: crate::catalog::models::recommended(
                system.total_memory() / 1_000_000,
                cores,
                apple_silicon,
            ),
            models,
        }
    }

    /// Install, cancel the install of, or remove a Whisper model of the catalog (or a Hub
    /// repository); answers with the listing after.
    pub async fn transcription_model(
        &self,
        action: ModelAction,
        name: &str,
    ) -> Result<TranscriptionModels, ApiError> {
        let settings = self.0.live.get();
        if settings.transcription.engine != crate::config::TranscriptionEngineId::Whisper {
            return Err(ApiError::conflict(
                Code::NotManaged,
                "Murmur installs models for its Whisper engine only ([transcription] engine = \"whisper\")",
            ));
        }
        let models = &self.0.models;
        match action {
            ModelAction::Install => models.install(&settings, name).map(drop),
            ModelAction::Cancel => models.cancel(name),
            ModelAction::Remove => {
                // Deleting a folder of hundreds of MB: on a blocking thread.
                let (models, name) = (models.clone(), name.to_string());
                tokio::task::spawn_blocking(move || models.remove(&settings, &name))
                    .await
                    .expect("invariant: removing a model does not panic")
            }
        }
        .map_err(|e| super::voices::catalog_error_as(e, Code::ModelBusy))?;
        Ok(self.transcription_models().await)
    }
}
