//! The engines Murmur knows.
//!
//! An [`EngineSpec`] is the single description of an engine: its name, the model and voice it
//! uses when a request names none, and how to probe it. The supervisor and runtime will add
//! how to launch it and how much memory it needs.

pub mod model;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::audio::EngineAudio;
use crate::config::{CustomAudio, EngineId, Settings};
use crate::runtime::Runtime;

/// What Murmur knows about one engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineSpec {
    pub id: EngineId,
    /// For people: "Piper", "MLX Audio".
    pub display_name: &'static str,
    pub default_model: Option<&'static str>,
    pub default_voice: Option<&'static str>,
}

/// The registry.
pub fn spec(id: EngineId) -> EngineSpec {
    match id {
        EngineId::Piper => EngineSpec {
            id,
            display_name: "Piper",
            default_model: Some("piper"),
            default_voice: Some("joe"),
        },
        EngineId::MlxAudio => EngineSpec {
            id,
            display_name: "MLX Audio",
            default_model: Some("mlx-community/Kokoro-82M-bf16"),
            default_voice: Some("af_heart"),
        },
        EngineId::Custom => EngineSpec {
            id,
            display_name: "Custom server",
            default_model: None,
            default_voice: None,
        },
        EngineId::External => EngineSpec {
            id,
            display_name: "External server",
            default_model: None,
            default_voice: None,
        },
    }
}

/// What the configured engine's speech responses hold, and so what Murmur asks it for:
/// Piper streams PCM (its rate in a header), mlx-audio makes WAV without ffmpeg, a custom
/// server says so in `[engine.custom] audio`, and an external one is passed through.
pub fn audio(settings: &Settings) -> EngineAudio {
    match settings.engine.id {
        EngineId::Piper => EngineAudio::Pcm { rate: 22_050 },
        EngineId::MlxAudio => EngineAudio::Wav,
        EngineId::Custom => match settings.engine.custom.audio {
            CustomAudio::Encoded => EngineAudio::Encoded,
            CustomAudio::Wav => EngineAudio::Wav,
            CustomAudio::Pcm => EngineAudio::Pcm {
                rate: settings.engine.custom.sample_rate,
            },
        },
        EngineId::External => EngineAudio::Encoded,
    }
}

/// The paths the engine answers, when Murmur knows them: any other path gets Murmur's own
/// 404 without reaching the engine. `None`: forward everything (a server Murmur does not
/// know the routes of).
pub fn served_paths(id: EngineId) -> Option<&'static [&'static str]> {
    match id {
        EngineId::Piper => Some(&[
            "/v1/models",
            "/v1/audio/models",
            "/v1/audio/voices",
            "/v1/audio/speech",
        ]),
        EngineId::MlxAudio | EngineId::Custom | EngineId::External => None,
    }
}

/// How to start an engine process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    pub program: String,
    pub args: Vec<String>,
    pub cwd: Option<PathBuf>,
    pub env: BTreeMap<String, String>,
    /// Probed for readiness and health; 200 means up.
    pub probe_path: String,
    /// Keep a pipe on the engine's stdin: the launcher exits when it closes.
    pub stdin_guard: bool,
}

/// The uv project an engine runs in, if it runs in Python: (project folder, runtime name).
/// A bundled project that cannot be found yields its expected path, so provisioning fails
/// with an error that names it.
pub fn python_project(settings: &Settings) -> Option<(PathBuf, String)> {
    let bundled = |name: &str| {
        let dir = crate::runtime::bundled::locate(name)
            .unwrap_or_else(|| PathBuf::from("python-runtime").join(name));
        Some((dir, name.to_string()))
    };
    match settings.engine.id {
        EngineId::Piper => bundled("piper"),
        EngineId::MlxAudio => bundled("mlx-audio"),
        EngineId::Custom => settings
            .engine
            .custom
            .python_project
            .clone()
            .map(|dir| (dir, "custom".to_string())),
        EngineId::External => None,
    }
}

/// Where GUI-launched apps on macOS do not look, but tools such as ffmpeg live.
const EXTRA_PATH: [&str; 3] = ["/opt/homebrew/bin", "/usr/local/bin", "/usr/bin"];

/// `PATH` for an engine: the inherited one plus the usual tool folders.
fn engine_path() -> String {
    let mut dirs: Vec<String> = std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .filter(|d| !d.is_empty())
        .map(String::from)
        .collect();
    for extra in EXTRA_PATH {
        if !dirs.iter().any(|d| d == extra) {
            dirs.push(extra.to_string());
        }
    }
    dirs.join(":")
}

/// The command for the configured engine on `host:port`, or `None` when Murmur cannot
/// launch it (an external server, or a Python engine whose runtime is missing).
///
/// With a provisioned `runtime`, `{python}` is its interpreter, and `{python} -m module …`
/// runs under the launcher (`-m murmur_launch module …`) so that the engine exits with Murmur.
pub fn launch(
    settings: &Settings,
    host: &str,
    port: u16,
    data_dir: &Path,
    runtime: Option<&Runtime>,
) -> Option<Launch> {
    let python_path = |extra: Option<&Path>| {
        let mut path: Vec<String> = runtime
            .iter()
            .map(|r| r.dir.to_string_lossy().into_owned())
            .collect();
        path.extend(extra.map(|p| p.to_string_lossy().into_owned()));
        path.join(":")
    };
    match settings.engine.id {
        EngineId::Piper | EngineId::MlxAudio => {
            let runtime = runtime?;
            let (project, _) = python_project(settings)?;
            let mut args: Vec<String> = vec!["-m".into(), "murmur_launch".into()];
            if settings.engine.id == EngineId::Piper {
                args.extend([
                    "murmur_piper_server".into(),
                    "--host".into(),
                    host.into(),
                    "--port".into(),
                    port.to_string(),
                ]);
                if let Some(dir) = &settings.engine.voices_dir {
                    args.extend(["--voices-dir".into(), dir.to_string_lossy().into_owned()]);
                }
            } else {
                let logs = data_dir.join("logs").to_string_lossy().into_owned();
                args.extend(
                    [
                        "mlx_audio.server",
                        "--host",
                        host,
                        "--port",
                        &port.to_string(),
                        "--log-dir",
                        &logs,
                    ]
                    .map(String::from),
                );
            }
            let env = BTreeMap::from([
                ("PYTHONPATH".to_string(), python_path(Some(&project))),
                ("PATH".to_string(), engine_path()),
                ("PYTHONUNBUFFERED".to_string(), "1".to_string()),
            ]);
            Some(Launch {
                program: runtime.python.to_string_lossy().into_owned(),
                args,
                cwd: None,
                env,
                probe_path: "/v1/models".into(),
                stdin_guard: true,
            })
        }
        EngineId::Custom => {
            let custom = &settings.engine.custom;
            let python = runtime.map(|r| r.python.to_string_lossy().into_owned());
            let fill = |arg: &str| {
                let arg = arg
                    .replace("{host}", host)
                    .replace("{port}", &port.to_string())
                    .replace("{data_dir}", &data_dir.to_string_lossy());
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
            let guarded = runtime.is_some()
                && program == "{python}"
                && args.first().is_some_and(|a| a == "-m");
            if guarded {
                args.insert(1, "murmur_launch".into());
            }
            if runtime.is_some() {
                let mut path = python_path(custom.python_project.as_deref());
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
        EngineId::External => None,
    }
}

/// Memory the engine is expected to need, in MB, when known. The supervisor warns when the
/// system has less available than this plus some headroom.
pub fn memory_estimate_mb(settings: &Settings) -> Option<u64> {
    match settings.engine.id {
        EngineId::MlxAudio => {
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
        // Measured: onnxruntime and one medium voice, ~940 MB RSS.
        EngineId::Piper => Some(1000),
        EngineId::Custom | EngineId::External => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> Runtime {
        Runtime {
            python: PathBuf::from("/data/runtimes/x/.venv/bin/python"),
            dir: PathBuf::from("/data/runtimes/x"),
            fast_path: true,
            note: None,
        }
    }

    fn launch_for(id: EngineId) -> Launch {
        let mut settings = Settings::default();
        settings.engine.id = id;
        launch(
            &settings,
            "127.0.0.1",
            4321,
            Path::new("/data"),
            Some(&runtime()),
        )
        .expect("launchable")
    }

    #[test]
    fn mlx_audio_runs_its_server_under_the_launcher_with_a_full_path() {
        let launch = launch_for(EngineId::MlxAudio);
        assert_eq!(launch.program, "/data/runtimes/x/.venv/bin/python");
        assert_eq!(
            launch.args,
            [
                "-m",
                "murmur_launch",
                "mlx_audio.server",
                "--host",
                "127.0.0.1",
                "--port",
                "4321",
                "--log-dir",
                "/data/logs"
            ]
        );
        assert!(launch.stdin_guard);
        let path = &launch.env["PATH"];
        assert!(path.split(':').any(|d| d == "/opt/homebrew/bin"), "{path}");
        assert!(launch.env["PYTHONPATH"].starts_with("/data/runtimes/x:"));
        assert!(
            launch.env["PYTHONPATH"].ends_with("mlx-audio"),
            "{}",
            launch.env["PYTHONPATH"]
        );
    }

    #[test]
    fn piper_runs_murmurs_server() {
        let launch = launch_for(EngineId::Piper);
        assert_eq!(
            &launch.args[..3],
            ["-m", "murmur_launch", "murmur_piper_server"]
        );
        assert!(launch.args.windows(2).any(|w| w == ["--port", "4321"]));
        assert_eq!(launch.probe_path, "/v1/models");
    }

    #[test]
    fn python_engines_need_their_runtime() {
        let settings = Settings::default();
        assert_eq!(
            launch(&settings, "127.0.0.1", 1, Path::new("/d"), None),
            None
        );
    }

    #[test]
    fn custom_python_commands_get_the_interpreter_and_the_launcher() {
        let mut settings = Settings::default();
        settings.engine.id = EngineId::Custom;
        settings.engine.custom.command = ["{python}", "-m", "srv", "--port", "{port}"]
            .map(String::from)
            .to_vec();
        settings.engine.custom.python_project = Some(PathBuf::from("/proj"));
        let launch = launch(&settings, "127.0.0.1", 9, Path::new("/d"), Some(&runtime()))
            .expect("launchable");
        assert_eq!(launch.program, "/data/runtimes/x/.venv/bin/python");
        assert_eq!(launch.args, ["-m", "murmur_launch", "srv", "--port", "9"]);
        assert_eq!(launch.env["PYTHONPATH"], "/data/runtimes/x:/proj");
    }

    #[test]
    fn the_bundled_projects_are_found() {
        let mut settings = Settings::default();
        for (id, name) in [
            (EngineId::Piper, "piper"),
            (EngineId::MlxAudio, "mlx-audio"),
        ] {
            settings.engine.id = id;
            let (dir, runtime) = python_project(&settings).expect("a Python engine");
            assert!(dir.join("uv.lock").is_file(), "{}", dir.display());
            assert_eq!(runtime, name);
        }
    }
}
