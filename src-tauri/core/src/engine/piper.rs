//! Piper, through Murmur's own server (`python-runtime/piper`): streams PCM at the voice's
//! rate, one sentence at a time. The default engine off Apple Silicon. Its voices: the one
//! its runtime ships (`joe`) and those installed from the catalog into its voices folder.

use super::{Engine, EngineSpec, Launch, Place, Project, SpeechEngine, bundled_launch};
use crate::audio::EngineAudio;
use crate::config::{EngineId, Settings};

pub struct Piper;

impl Engine for Piper {
    fn spec(&self) -> EngineSpec {
        EngineSpec {
            id: EngineId::Piper.as_str(),
            display_name: "Piper",
            default_model: Some("piper"),
            default_voice: Some("joe"),
        }
    }

    fn served_paths(&self) -> Option<&'static [&'static str]> {
        Some(super::bundled::MURMUR_SERVER_PATHS)
    }

    fn python_project(&self, _settings: &Settings) -> Option<Project> {
        Some(Project::Bundled("piper"))
    }

    fn launch(&self, settings: &Settings, place: &Place<'_>) -> Option<Launch> {
        let runtime = place.runtime?;
        let project = place.project?;
        let voices = crate::voices::voices_dir(settings, place.data_dir);
        let args: Vec<String> = [
            "murmur_piper_server",
            "--host",
            place.host,
            "--port",
            &place.port.to_string(),
            "--voices-dir",
            &voices.to_string_lossy(),
        ]
        .map(String::from)
        .to_vec();
        let mut launch = bundled_launch(runtime, project, args);
        // glibc raises its mmap threshold each time a large block is freed, and from then on
        // keeps such blocks in the heap: with ONNX Runtime's arena shrunk after every run
        // (murmur_onnx.py) Piper still grew 211 → 315 MB over the benchmark's requests; with
        // the threshold fixed at 128 KiB and two malloc arenas (the server answers each
        // connection on its own thread) it stayed at 145–146 MB. Other C libraries ignore both.
        launch
            .env
            .insert("MALLOC_MMAP_THRESHOLD_".into(), "131072".into());
        launch.env.insert("MALLOC_ARENA_MAX".into(), "2".into());
        Some(launch)
    }

    /// Measured: onnxruntime and one medium voice, ~940 MB RSS.
    fn memory_estimate_mb(&self, _settings: &Settings) -> Option<u64> {
        Some(1000)
    }
}

impl SpeechEngine for Piper {
    /// PCM, its rate in `X-Audio-Sample-Rate` (this is the rate when the header is missing).
    fn audio(&self, _settings: &Settings) -> EngineAudio {
        EngineAudio::Pcm { rate: 22_050 }
    }
}
