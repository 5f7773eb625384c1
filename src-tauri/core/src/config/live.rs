//! The effective settings while Murmur runs: one owner, many readers.
//!
//! File, environment and flags are merged once ([`super::load`]); the result lives here.
//! A settings `PUT` and `SIGHUP` replace it through [`LiveSettings::set`], and every reader
//! (the proxy's request defaults, the control API) sees the new value on its next read, so a
//! change applies to the next request.

use std::sync::Arc;

use tokio::sync::watch;

use super::Settings;

/// A cheap handle to the effective settings.
#[derive(Clone)]
pub struct LiveSettings(Arc<watch::Sender<Arc<Settings>>>);

impl LiveSettings {
    pub fn new(settings: Settings) -> Self {
        Self(Arc::new(watch::Sender::new(Arc::new(settings))))
    }

    /// The settings now.
    pub fn get(&self) -> Arc<Settings> {
        self.0.borrow().clone()
    }

    /// Replace them; readers see the new value from their next read on.
    pub fn set(&self, settings: Settings) {
        self.0.send_replace(Arc::new(settings));
    }

    /// Follow changes.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Settings>> {
        self.0.subscribe()
    }
}

impl std::fmt::Debug for LiveSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("LiveSettings").field(&self.get()).finish()
    }
}
