//! Every engine Murmur uses, as one collection indexed by [`Capability`].
//!
//! An [`Engine`] is what serves one capability: how the proxy reaches it (its [`Backend`]),
//! the [`Supervisor`] that runs it when Murmur does, and the [`Gate`] its requests pass.
//! [`Engines::build`] makes one for each capability the settings turn on; the proxy, Control,
//! the status, the tray and the page take the collection and index or iterate it. A new
//! capability is a variant of [`Capability`] (with its settings) and its own routes: nothing
//! here, in Control or in the status changes.

use std::sync::Arc;

use crate::backend::Backend;
use crate::backend::external::Forwarder;
use crate::config::{LiveSettings, Settings};
use crate::gate::Gate;
use crate::http_client::HttpClient;
use crate::paths::Paths;
use crate::supervisor::Supervisor;

pub use crate::engine::{Capability, Runner};

/// One engine: what serves one capability.
pub struct Engine {
    pub capability: Capability,
    /// How the proxy reaches it: ready it, find it, report it unreachable.
    pub backend: Arc<dyn Backend>,
    /// What runs it, when Murmur does.
    pub supervisor: Option<Supervisor>,
    /// What its requests pass: at most so many at once, so many waiting.
    pub gate: Gate,
}

impl Engine {
    /// An engine reached through `backend` that Murmur does not supervise, with the gate
    /// `settings` give its capability (tests stand their own backends in).
    pub fn reached_by(
        capability: Capability,
        backend: Arc<dyn Backend>,
        settings: &Settings,
    ) -> Self {
        Self {
            capability,
            backend,
            supervisor: None,
            gate: gate(capability, settings, Arc::default()),
        }
    }
}

/// The engines of a running Murmur, one per capability that is on. Cheap to clone.
#[derive(Clone)]
pub struct Engines(Arc<[Engine]>);

impl Engines {
    /// One engine for each capability `live` turns on, in [`Capability::ALL`]'s order; a
    /// supervised one follows `live` from then on (and starts at once if it warms up at
    /// launch). `queued` counts the speech requests waiting at its gate.
    pub fn build(
        live: &LiveSettings,
        paths: &Paths,
        client: &HttpClient,
        queued: Arc<std::sync::atomic::AtomicUsize>,
    ) -> Self {
        let settings = live.get();
        let engines = Capability::ALL
            .into_iter()
            .filter_map(|capability| {
                let (backend, supervisor): (Arc<dyn Backend>, _) = match capability
                    .runner(&settings)
                {
                    Runner::Off => return None,
                    Runner::External => (
                        Arc::new(Forwarder::serving(capability, &settings, client.clone())),
                        None,
                    ),
                    Runner::Murmur => {
                        let supervisor = Supervisor::spawn(capability, live, paths, client.clone());
                        (Arc::new(supervisor.clone()), Some(supervisor))
                    }
                };
                let gate = gate(capability, &settings, queued.clone());
                Some(Engine {
                    capability,
                    backend,
                    supervisor,
                    gate,
                })
            })
            .collect();
        Self(engines)
    }

    /// A collection made of `engines` (tests make their own backends).
    pub fn of(engines: Vec<Engine>) -> Self {
        Self(engines.into())
    }

    /// The engine serving `capability`, unless that capability is off.
    pub fn get(&self, capability: Capability) -> Option<&Engine> {
        self.0.iter().find(|e| e.capability == capability)
    }

    /// The speech engine: always there (Murmur is a speech server first).
    pub fn speech(&self) -> &Engine {
        self.get(Capability::Speech)
            .expect("invariant: Engines::build always makes the speech engine")
    }

    pub fn iter(&self) -> impl Iterator<Item = &Engine> {
        self.0.iter()
    }

    /// Stop every engine Murmur runs, for good (Murmur is quitting). Resolves once all are
    /// gone.
    pub async fn shutdown(&self) {
        futures_util::future::join_all(
            self.iter()
                .filter_map(|e| e.supervisor.as_ref())
                .map(Supervisor::shutdown),
        )
        .await;
    }
}

/// Speech takes `[proxy] max_concurrent_requests` at once; transcription one (a long upload
/// never holds speech up: each has its own gate). Both queue `[proxy] max_queue`.
fn gate(
    capability: Capability,
    settings: &Settings,
    queued: Arc<std::sync::atomic::AtomicUsize>,
) -> Gate {
    let proxy = &settings.proxy;
    match capability {
        Capability::Speech => {
            Gate::counting(proxy.max_concurrent_requests, proxy.max_queue, queued)
        }
        Capability::Transcription => Gate::new(1, proxy.max_queue),
    }
}
