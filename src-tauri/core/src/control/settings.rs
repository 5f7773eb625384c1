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
use crate::engines::{Capability, Runner};

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
        let restarts = |capability: Capability| {
            capability.relaunches(&running, &effective) && self.watch(capability).is_some()
        };
        let restarts_engine = restarts(Capability::Speech);
        let restarts_transcription_engine = restarts(Capability::Transcription);
        // Which backend serves each capability (none, a forwarder to a URL, a supervisor) is
        // fixed when Murmur starts.
        let needs_murmur_restart = running.proxy != effective.proxy
            || running.wyoming != effective.wyoming
            || Capability::ALL
                .into_iter()
                .any(|c| backing(c, &running) != backing(c, &effective));
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
    /// all have acted on them.
    async fn apply(&self, settings: Settings) {
        let parts = self.parts();
        parts.live.set(settings);
        for supervisor in parts.engines.iter().filter_map(|e| e.supervisor.as_ref()) {
            supervisor.settled().await;
        }
    }
}

/// What the proxy holds for transcription: nothing, a forwarder to a URL, or a supervisor.
/// Who runs a capability's engine and, for a server of the user's, where it is.
fn backing(capability: Capability, settings: &Settings) -> (Runner, Option<(&str, &str)>) {
    let runner = capability.runner(settings);
    let at = match (runner, capability) {
        (Runner::External, Capability::Speech) => Some((
            settings.engine.url.as_deref().unwrap_or_default(),
            settings.engine.probe_path.as_str(),
        )),
        (Runner::External, Capability::Transcription) => Some((
            settings.transcription.url.as_deref().unwrap_or_default(),
            settings.transcription.probe_path.as_str(),
        )),
        _ => None,
    };
    (runner, at)
}
