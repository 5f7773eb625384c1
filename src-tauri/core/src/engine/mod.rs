//! The engines Murmur knows, and the backend that serves each.
//!
//! An [`EngineSpec`] is the single description of an engine: its name, the model and voice it
//! uses when a request names none, and how to probe it. The supervisor and runtime will add
//! how to launch it and how much memory it needs.

pub mod external;

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

/// The backend for the configured engine.
pub fn backend(settings: &Settings, client: crate::http_client::HttpClient) -> Arc<dyn Backend> {
    match settings.engine.id {
        EngineId::External => Arc::new(external::External::new(settings, client)),
        id => Arc::new(Unsupervised(id)),
    }
}

/// Engines that Murmur must launch itself. Until the supervisor lands, requests for them get a
/// clear 503 instead of a hang.
struct Unsupervised(EngineId);

impl Backend for Unsupervised {
    fn ensure_ready(&self) -> BoxFuture<'_, Result<Upstream, NotReady>> {
        let id = self.0;
        async move {
            Err(NotReady::new(format!(
                "this build of Murmur cannot launch the {id} engine yet (no supervisor)"
            ))
            .hint("run your server yourself and set [engine] id = \"external\" with its url"))
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
