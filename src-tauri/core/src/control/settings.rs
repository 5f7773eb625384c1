//! Settings through Control: read the file, save a whole settings object, reload.
//!
//! A save is validated completely before anything is written: every bad field is reported
//! with its dotted key, and nothing is written unless all of it is valid. A valid one is saved
//! (only the keys that changed; the previous file kept as `.bak`), becomes the live settings
//! (request defaults apply to the next request), and is handed to the engine, which restarts
//! only if how it is launched changed. Proxy settings (port, limits, security) take effect at
//! Murmur's next start; the answer says so.

use serde::Serialize;

use super::Control;
use crate::api_error::{ApiError, Code};
use crate::config::{self, ConfigError, FieldError, Settings};

/// The settings file as saved, and what overrides it.
#[derive(Debug, Serialize)]
pub struct Current {
    pub settings: Settings,
    pub config_file: String,
    /// Values set by flags or the environment, which win over the file.
    pub overridden: Vec<&'static str>,
}

/// What a save did.
#[derive(Debug, Serialize)]
pub struct Saved {
    pub saved: bool,
    /// The engine restarts to apply these settings.
    pub restarts_engine: bool,
    /// The transcription engine starts again with these settings (at once if it runs, else
    /// with the next transcription request).
    pub restarts_transcription_engine: bool,
    /// These settings apply at Murmur's next start.
    pub needs_murmur_restart: bool,
}

/// Why a save did not happen.
#[derive(Debug)]
pub enum SaveError {
    /// Fields that are not valid, each with its dotted key; nothing was written.
    Invalid(Vec<FieldError>),
    /// The file could not be written.
    Failed(ApiError),
}

impl Control {
    /// The settings file as it is now (not the effective settings: see `overridden`).
    pub fn settings(&self) -> Result<Current, ApiError> {
        let parts = self.parts();
        let settings = config::load_file(&parts.config_file)
            .map_err(|e| ApiError::conflict(Code::ConfigBroken, format!("{e}")))?;
        let mut overridden = Vec::new();
        if parts.overrides.port.is_some() {
            overridden.push("proxy.port");
        }
        if parts.overrides.engine.is_some() {
            overridden.push("engine.id");
        }
        if parts.overrides.transcription.is_some() {
            overridden.push("transcription.engine");
        }
        Ok(Current {
            settings,
            config_file: parts.config_file.display().to_string(),
            overridden,
        })
    }

    /// Validate, save and apply `new`.
    pub async fn save(&self, new: Settings) -> Result<Saved, SaveError> {
        let parts = self.parts();
        let errors = config::check(&new);
        if !errors.is_empty() {
            return Err(SaveError::Invalid(errors));
        }
        config::save(&parts.config_file, &new)
            .map_err(|e| SaveError::Failed(ApiError::conflict(Code::SaveFailed, e.to_string())))?;
        // What runs now against what will run: the file with flags and environment on top, so
        // a change the overrides mask restarts nothing, and the answer says so.
        let running = parts.live.get();
        let mut effective = new;
        parts.overrides.apply(&mut effective);
        let restarts_engine =
            running.engine.relaunches_for(&effective.engine) && parts.supervisor.is_some();
        let restarts_transcription_engine = running
            .transcription
            .relaunches_for(&effective.transcription)
            && parts.transcriber.is_some();
        // Which transcription backend runs (none, a forwarder to a URL, a supervisor) is fixed
        // when Murmur starts.
        let needs_murmur_restart = running.proxy != effective.proxy
            || running.wyoming != effective.wyoming
            || listening_backend(&running.transcription)
                != listening_backend(&effective.transcription);
        self.apply(effective).await;
        Ok(Saved {
            saved: true,
            restarts_engine,
            restarts_transcription_engine,
            needs_murmur_restart,
        })
    }

    /// Read the settings file again (SIGHUP). A broken file is reported and the running
    /// settings kept.
    pub async fn reload(&self) -> Result<(), ConfigError> {
        let parts = self.parts();
        let settings = config::load(&parts.config_file, &parts.overrides)?;
        self.apply(settings).await;
        Ok(())
    }

    /// Make `settings` the running ones; the supervisors follow them, and this returns once
    /// both have acted on them.
    async fn apply(&self, settings: Settings) {
        let parts = self.parts();
        parts.live.set(settings);
        for supervisor in [&parts.transcriber, &parts.supervisor]
            .into_iter()
            .flatten()
        {
            supervisor.settled().await;
        }
    }
}

/// What the proxy holds for transcription: nothing, a forwarder to a URL, or a supervisor.
fn listening_backend(t: &config::TranscriptionSettings) -> (bool, Option<(&str, &str)>) {
    use config::TranscriberId;
    match t.engine {
        TranscriberId::Off => (false, None),
        TranscriberId::External => (
            true,
            Some((t.url.as_deref().unwrap_or_default(), t.probe_path.as_str())),
        ),
        TranscriberId::Whisper | TranscriberId::MlxAudio | TranscriberId::Custom => (true, None),
    }
}
