//! `[engine] id = "custom"` and `[transcription] engine = "custom"`: a server command the
//! user gives (`[engine.custom]`, `[transcription.custom]`), optionally in a uv project of
//! theirs that Murmur provisions like its own.

use std::collections::BTreeMap;

use super::bundled::python_path;
use super::{Engine, EngineSpec, Launch, Place, Project, SpeechEngine, TranscriptionEngine};
use crate::audio::EngineAudio;
use crate::config::{CustomAudio, CustomEngine, EngineId, Settings};

/// A custom server, for the capability whose section `section` reads.
pub struct Custom {
    section: fn(&Settings) -> &CustomEngine,
    /// Its Python runtime's name (each capability's project gets its own).
    runtime: &'static str,
    spawn_hint: &'static str,
}

/// `[engine.custom]`.
pub static SPEECH: Custom = Custom {
    section: |s| &s.engine.custom,
    runtime: "custom",
    spawn_hint: "check [engine.custom] command: the program must exist and be executable",
};

/// `[transcription.custom]`: a server that answers OpenAI's `/v1/audio/transcriptions`.
pub static TRANSCRIPTION: Custom = Custom {
    section: |s| &s.transcription.custom,
    runtime: "custom-transcription",
    spawn_hint: "check [transcription.custom] command: the program must exist and be executable",
};

impl Engine for Custom {
    fn spec(&self) -> EngineSpec {
        EngineSpec {
            id: EngineId::Custom.as_str(),
            display_name: "Custom server",
            default_model: None,
            default_voice: None,
        }
    }

    fn python_project(&self, settings: &Settings) -> Option<Project> {
        let dir = (self.section)(settings).python_project.clone()?;
        Some(Project::Folder {
            dir,
            runtime: self.runtime,
        })
    }

    /// `{host}`, `{port}`, `{data_dir}` and (with a project) `{python}` are filled in; a
    /// `{python} -m module …` command runs under the launcher, so it exits with Murmur.
    fn launch(&self, settings: &Settings, place: &Place<'_>) -> Option<Launch> {
        let custom = (self.section)(settings);
        let runtime = place.runtime;
        let python = runtime.map(|r| r.python.to_string_lossy().into_owned());
        let fill = |arg: &str| {
            let arg = arg
                .replace("{host}", place.host)
                .replace("{port}", &place.port.to_string())
                .replace("{data_dir}", &place.data_dir.to_string_lossy());
            match &python {
                Some(python) => arg.replace("{python}", python),
                None => arg,
            }
        };
        let (program, args) = custom.command.split_first()?;
        let mut args: Vec<String> = args.iter().map(|a| fill(a)).collect();
        let mut env: BTreeMap<String, String> = custom
            .env
            .iter()
            .map(|(k, v)| (k.clone(), fill(v)))
            .collect();
        let guarded =
            runtime.is_some() && program == "{python}" && args.first().is_some_and(|a| a == "-m");
        if guarded {
            args.insert(1, "murmur_launch".into());
        }
        if runtime.is_some() {
            let mut path = python_path(runtime, custom.python_project.as_deref());
            if let Some(existing) = env.get("PYTHONPATH") {
                path = format!("{path}:{existing}");
            }
            env.insert("PYTHONPATH".into(), path);
        }
        Some(Launch {
            program: fill(program),
            args,
            cwd: custom.cwd.clone(),
            env,
            probe_path: custom.probe_path.clone(),
            stdin_guard: guarded,
        })
    }

    fn spawn_hint(&self) -> &'static str {
        self.spawn_hint
    }
}

impl SpeechEngine for Custom {
    /// What `[engine.custom] audio` says its responses hold.
    fn audio(&self, settings: &Settings) -> EngineAudio {
        let custom = (self.section)(settings);
        match custom.audio {
            CustomAudio::Encoded => EngineAudio::Encoded,
            CustomAudio::Wav => EngineAudio::Wav,
            CustomAudio::Pcm => EngineAudio::Pcm {
                rate: custom.sample_rate,
            },
        }
    }
}

/// `[transcription.custom]`: OpenAI's route.
impl TranscriptionEngine for Custom {}
