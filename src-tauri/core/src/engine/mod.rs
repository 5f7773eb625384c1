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
}

/// The command for the configured engine on `host:port`, or `None` when Murmur cannot
/// launch it (an external server; the Python engines until their runtime exists).
pub fn launch(settings: &Settings, host: &str, port: u16, data_dir: &Path) -> Option<Launch> {
    match settings.engine.id {
        EngineId::Custom => {
            let custom = &settings.engine.custom;
            let fill = |arg: &str| {
                arg.replace("{host}", host)
                    .replace("{port}", &port.to_string())
                    .replace("{data_dir}", &data_dir.to_string_lossy())
            };
            let (program, args) = custom.command.split_first()?;
            Some(Launch {
                program: fill(program),
                args: args.iter().map(|a| fill(a)).collect(),
                cwd: custom.cwd.clone(),
                env: custom
                    .env
                    .iter()
                    .map(|(k, v)| (k.clone(), fill(v)))
                    .collect(),
                probe_path: custom.probe_path.clone(),
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
