//! The engines Murmur knows, and the backend that serves each.
//!
//! An [`EngineSpec`] is the single description of an engine: its name, the model and voice it
//! uses when a request names none, and how to probe it. The supervisor and runtime will add
//! how to launch it and how much memory it needs.

pub mod external;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use crate::backend::{Backend, NotReady, Upstream};
use crate::config::{EngineId, Settings};
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
pub fn python_project(settings: &Settings) -> Option<(PathBuf, String)> {
    match settings.engine.id {
        EngineId::Custom => settings
            .engine
            .custom
            .python_project
            .clone()
            .map(|dir| (dir, "custom".to_string())),
        EngineId::Piper | EngineId::MlxAudio | EngineId::External => None,
    }
}

/// The command for the configured engine on `host:port`, or `None` when Murmur cannot
/// launch it (an external server; the Python engines until their runtime exists).
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
    match settings.engine.id {
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
            if let Some(runtime) = runtime {
                let mut path = vec![runtime.dir.to_string_lossy().into_owned()];
                path.extend(
                    custom
                        .python_project
                        .iter()
                        .map(|p| p.to_string_lossy().into_owned()),
                );
                path.extend(env.get("PYTHONPATH").cloned());
                env.insert("PYTHONPATH".into(), path.join(":"));
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
        EngineId::Piper | EngineId::MlxAudio | EngineId::External => None,
    }
}

/// Memory the engine is expected to need, in MB, when known. The supervisor warns when the
/// system has less available than this plus [`MEMORY_HEADROOM_MB`].
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
        EngineId::Piper => Some(200),
        EngineId::Custom | EngineId::External => None,
    }
}

/// Kept free beyond an engine's estimate.
pub const MEMORY_HEADROOM_MB: u64 = 300;

/// The backend for the configured engine.
pub fn backend(
    settings: &Settings,
    data_dir: &Path,
    client: crate::http_client::HttpClient,
) -> Arc<dyn Backend> {
    match settings.engine.id {
        EngineId::External => Arc::new(external::External::new(settings, client)),
        EngineId::Custom => Arc::new(crate::supervisor::Supervisor::spawn(
            settings.clone(),
            data_dir,
            client,
        )),
        id => Arc::new(Unsupervised(id)),
    }
}

/// The Python engines, until their runtime can be provisioned: requests get a clear 503
/// instead of a hang.
struct Unsupervised(EngineId);

impl Backend for Unsupervised {
    fn ensure_ready(&self) -> BoxFuture<'_, Result<Upstream, NotReady>> {
        let id = self.0;
        async move {
            Err(NotReady::new(format!(
                "this build of Murmur cannot provision the {id} engine's Python runtime yet"
            ))
            .hint("run your server yourself and set [engine] id = \"external\" with its url, or id = \"custom\" with its command"))
        }
        .boxed()
    }

    fn current(&self) -> Option<Upstream> {
        None
    }

    fn report_unreachable(&self, _upstream: &Upstream) {}

    fn is_ready(&self) -> bool {
        false
    }
}
