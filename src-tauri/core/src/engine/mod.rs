//! The engines Murmur knows, as data: one module per engine ([`piper`], [`mlx_audio`],
//! [`custom`], [`external`]), each an [`Engine`] that says what it is called, the model and
//! voice it uses when a request names none, how to launch it, which Python project it runs
//! in, how much memory it needs, what audio it hands back, and what must happen before it
//! starts. The supervisor and the proxy ask [`of`]; neither knows an engine by name.

pub mod custom;
pub mod external;
pub mod kokoro;
pub mod mlx_audio;
pub mod model;
pub mod piper;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use futures_util::future::BoxFuture;

use crate::audio::EngineAudio;
use crate::config::{EngineId, Settings};
use crate::runtime::{Progress, Runtime};

/// What Murmur knows about one engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineSpec {
    pub id: EngineId,
    /// For people: "Piper", "MLX Audio".
    pub display_name: &'static str,
    pub default_model: Option<&'static str>,
    pub default_voice: Option<&'static str>,
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

/// Where and with what an engine process is launched.
pub struct Place<'a> {
    pub host: &'a str,
    pub port: u16,
    pub data_dir: &'a Path,
    /// Its provisioned Python runtime, if it runs in one.
    pub runtime: Option<&'a Runtime>,
}

/// What an engine may do once its runtime is ready and before it is launched.
pub struct Preparation<'a> {
    pub settings: &'a Settings,
    pub data_dir: &'a Path,
    pub runtime: &'a Runtime,
    /// The engine's Python project folder.
    pub project: &'a Path,
    pub progress: &'a Progress,
    pub log: &'a (dyn Fn(&str) + Send + Sync),
}

/// Why an engine could not be prepared, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PrepareError {
    pub message: String,
    pub hint: String,
}

impl From<crate::runtime::assets::AssetError> for PrepareError {
    fn from(e: crate::runtime::assets::AssetError) -> Self {
        Self {
            message: e.message,
            hint: e.hint,
        }
    }
}

impl From<model::FetchError> for PrepareError {
    fn from(e: model::FetchError) -> Self {
        Self {
            message: e.message,
            hint: e.hint,
        }
    }
}

/// One engine.
pub trait Engine: Sync {
    fn spec(&self) -> EngineSpec;

    /// What its speech responses hold, and so what Murmur asks it for.
    fn audio(&self, settings: &Settings) -> EngineAudio;

    /// Whether Murmur asks it to stream (`"stream": true`): audio as it is made, rather than
    /// one file at the end.
    fn asks_to_stream(&self) -> bool {
        false
    }

    /// The paths it answers, when Murmur knows them: any other path gets Murmur's own 404
    /// without reaching the engine. `None`: forward everything.
    fn served_paths(&self) -> Option<&'static [&'static str]> {
        None
    }

    /// The uv project it runs in, if it runs in Python: (project folder, runtime name).
    fn python_project(&self, _settings: &Settings) -> Option<(PathBuf, String)> {
        None
    }

    /// The command that starts it, or `None` when Murmur cannot launch it (an external
    /// server, or a Python engine whose runtime is missing).
    fn launch(&self, _settings: &Settings, _place: &Place<'_>) -> Option<Launch> {
        None
    }

    /// Memory it is expected to need, in MB, when known.
    fn memory_estimate_mb(&self, _settings: &Settings) -> Option<u64> {
        None
    }

    /// Work before launch (MLX Audio fetches its model, with progress). Default: none.
    fn prepare<'a>(
        &self,
        _preparation: Preparation<'a>,
    ) -> BoxFuture<'a, Result<(), PrepareError>> {
        Box::pin(std::future::ready(Ok(())))
    }

    /// What to check when its process cannot be started.
    fn spawn_hint(&self) -> &'static str {
        "Murmur's Python environment may be damaged: restart the engine to check it again"
    }
}

/// The registry.
pub fn of(id: EngineId) -> &'static dyn Engine {
    match id {
        EngineId::Piper => &piper::Piper,
        EngineId::MlxAudio => &mlx_audio::MlxAudio,
        EngineId::Kokoro => &kokoro::Kokoro,
        EngineId::Custom => &custom::Custom,
        EngineId::External => &external::External,
    }
}

/// The spec of engine `id`.
pub fn spec(id: EngineId) -> EngineSpec {
    of(id).spec()
}

/// The model a request that names none gets: the configured one, else the engine's own.
pub fn effective_model(settings: &Settings) -> Option<String> {
    let spec = spec(settings.engine.id);
    settings
        .engine
        .model
        .clone()
        .or(spec.default_model.map(String::from))
}

/// The voice a request that names none gets: the configured one, else the engine's own.
pub fn effective_voice(settings: &Settings) -> Option<String> {
    let spec = spec(settings.engine.id);
    settings
        .engine
        .voice
        .clone()
        .or(spec.default_voice.map(String::from))
}

/// What the configured engine's speech responses hold.
pub fn audio(settings: &Settings) -> EngineAudio {
    of(settings.engine.id).audio(settings)
}

/// Whether the configured engine is asked to stream its speech.
pub fn asks_to_stream(settings: &Settings) -> bool {
    of(settings.engine.id).asks_to_stream()
}

/// The paths engine `id` answers, when Murmur knows them.
pub fn served_paths(id: EngineId) -> Option<&'static [&'static str]> {
    of(id).served_paths()
}

/// The uv project the configured engine runs in, if any.
pub fn python_project(settings: &Settings) -> Option<(PathBuf, String)> {
    of(settings.engine.id).python_project(settings)
}

/// The command for the configured engine on `host:port` (see [`Engine::launch`]).
pub fn launch(
    settings: &Settings,
    host: &str,
    port: u16,
    data_dir: &Path,
    runtime: Option<&Runtime>,
) -> Option<Launch> {
    let place = Place {
        host,
        port,
        data_dir,
        runtime,
    };
    of(settings.engine.id).launch(settings, &place)
}

/// The speech request Murmur sends a managed engine that answers its probe, before calling it
/// ready: the configured model and voice, as a client's request that names neither would get.
pub fn readiness_speech(settings: &Settings) -> bytes::Bytes {
    let format = audio(settings)
        .request_format()
        .unwrap_or(settings.engine.response_format);
    let mut request = serde_json::json!({
        "input": READINESS_PHRASE,
        "response_format": format.as_str(),
        "speed": 1.0,
        "lang_code": "a",
    });
    if let Some(model) = effective_model(settings) {
        request["model"] = model.into();
    }
    if let Some(voice) = effective_voice(settings) {
        request["voice"] = voice.into();
    }
    bytes::Bytes::from(request.to_string())
}

/// What an engine says before Murmur calls it ready.
pub const READINESS_PHRASE: &str = "Ready.";

/// Memory the configured engine is expected to need, in MB, when known.
pub fn memory_estimate_mb(settings: &Settings) -> Option<u64> {
    of(settings.engine.id).memory_estimate_mb(settings)
}

// ---- shared by the engines that run in Murmur's Python runtimes ---------------------------

/// A bundled project (`python-runtime/<name>`), or its expected path, so provisioning fails
/// with an error that names it.
fn bundled_project(name: &str) -> (PathBuf, String) {
    let dir = crate::runtime::bundled::locate(name)
        .unwrap_or_else(|| PathBuf::from("python-runtime").join(name));
    (dir, name.to_string())
}

/// `PYTHONPATH` for a runtime: its folder, then `extra` (the engine's project).
fn python_path(runtime: Option<&Runtime>, extra: Option<&Path>) -> String {
    let mut path: Vec<String> = runtime
        .iter()
        .map(|r| r.dir.to_string_lossy().into_owned())
        .collect();
    path.extend(extra.map(|p| p.to_string_lossy().into_owned()));
    path.join(":")
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

/// A bundled engine's server `module args…`, run by the runtime's Python under the launcher
/// (`-m murmur_launch module …`), so that the engine exits with Murmur. Its `PYTHONPATH` has
/// the project and `python-runtime/shared` beside it (code the engine servers share).
fn bundled_launch(runtime: &Runtime, project: &Path, module_and_args: Vec<String>) -> Launch {
    let mut args: Vec<String> = vec!["-m".into(), "murmur_launch".into()];
    args.extend(module_and_args);
    let mut path = python_path(Some(runtime), Some(project));
    if let Some(shared) = project.parent().map(|p| p.join("shared")) {
        path.push(':');
        path.push_str(&shared.to_string_lossy());
    }
    let env = BTreeMap::from([
        ("PYTHONPATH".to_string(), path),
        ("PATH".to_string(), engine_path()),
        ("PYTHONUNBUFFERED".to_string(), "1".to_string()),
    ]);
    Launch {
        program: runtime.python.to_string_lossy().into_owned(),
        args,
        cwd: None,
        env,
        probe_path: "/v1/models".into(),
        stdin_guard: true,
    }
}

/// Put the project's unpacked assets (`assets.toml`) on the launch's `PYTHONPATH`.
fn add_assets(launch: &mut Launch, project: &Path, data_dir: &Path) {
    let assets = crate::runtime::assets::installed_dirs(project, data_dir);
    if let Some(path) = launch.env.get_mut("PYTHONPATH") {
        for dir in assets {
            path.push(':');
            path.push_str(&dir.to_string_lossy());
        }
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
        let entries: Vec<&str> = launch.env["PYTHONPATH"].split(':').collect();
        assert!(
            entries[1].ends_with("python-runtime/mlx-audio"),
            "{entries:?}"
        );
        assert!(entries[2].ends_with("python-runtime/shared"), "{entries:?}");
        assert!(
            Path::new(entries[2]).join("murmur_speech.py").is_file(),
            "{entries:?}"
        );
    }

    #[test]
    fn kokoro_runs_murmurs_server_with_its_model_and_voices_folder() {
        let launch = launch_for(EngineId::Kokoro);
        assert_eq!(
            &launch.args[..3],
            ["-m", "murmur_launch", "murmur_kokoro_server"]
        );
        let value = |flag: &str| {
            let at = launch.args.iter().position(|a| a == flag).expect(flag);
            launch.args[at + 1].clone()
        };
        assert_eq!(
            value("--model"),
            "/data/models/kokoro/kokoro-v1.0.int8.onnx"
        );
        assert_eq!(value("--voices-dir"), "/data/voices/kokoro");
        let mut settings = Settings::default();
        settings.engine.id = EngineId::Kokoro;
        settings.engine.kokoro.model = crate::config::KokoroModel::Fp32;
        assert_eq!(kokoro::model_file(&settings).name, "kokoro-v1.0.onnx");
        assert_eq!(audio(&settings), EngineAudio::Pcm { rate: 24_000 });
    }

    #[test]
    fn mlx_audio_streams_kokoro_as_24_khz_pcm_and_other_models_as_wav() {
        let mut settings = Settings::default();
        settings.engine.id = EngineId::MlxAudio;
        assert_eq!(audio(&settings), EngineAudio::Pcm { rate: 24_000 });
        assert!(asks_to_stream(&settings));
        settings.engine.model = Some("/models/my-Kokoro-82M-4bit".into());
        assert_eq!(audio(&settings), EngineAudio::Pcm { rate: 24_000 });
        settings.engine.model = Some("mlx-community/csm-1b".into());
        assert_eq!(audio(&settings), EngineAudio::Wav);
        settings.engine.id = EngineId::Piper;
        assert!(!asks_to_stream(&settings));
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
            (EngineId::Kokoro, "kokoro"),
        ] {
            settings.engine.id = id;
            let (dir, runtime) = python_project(&settings).expect("a Python engine");
            assert!(dir.join("uv.lock").is_file(), "{}", dir.display());
            assert_eq!(runtime, name);
        }
    }
}
