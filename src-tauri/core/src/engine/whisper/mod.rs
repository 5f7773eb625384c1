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
//!
//! Split by job: this file is the engine (how it is launched and prepared); [`catalog`] the
//! models it can use and which are installed; [`fetch`] how a Hub model is downloaded.

mod catalog;
mod fetch;

use futures_util::future::BoxFuture;

use super::{Engine, EngineSpec, Launch, Place, Preparation, Project, bundled_launch};
use crate::config::Settings;
use crate::problem::{Problem, Stage};
use crate::runtime::fetch::Cancel;
use catalog::{MB, is_model_folder};

pub use catalog::{
    CATALOG, CatalogModel, LANGUAGES, Listed, ModelSource, catalog_model, configured_model,
    hub_dir, is_installed, listing, model_dir, source,
};
pub use fetch::fetch_model;

pub struct Whisper;

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

#[cfg(test)]
mod tests;
