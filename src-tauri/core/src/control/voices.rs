//! The speech engine's voices: the catalog, installs and removals.

use tokio::sync::watch;

use super::Control;
use crate::api_error::{ApiError, Code};

impl Control {
    /// Every voice the configured engine can have.
    pub async fn voice_catalog(&self) -> Result<crate::catalog::Listing, ApiError> {
        self.0
            .catalog
            .list(&self.0.live.get())
            .await
            .map_err(catalog_error)
    }

    /// Start installing a voice of the configured engine (progress in [`Self::watch_installs`]).
    pub async fn install_voice(&self, id: &str) -> Result<crate::catalog::Install, ApiError> {
        self.0
            .catalog
            .install(&self.0.live.get(), id)
            .await
            .map_err(catalog_error)
    }

    /// Stop installing a voice.
    pub fn cancel_install(&self, id: &str) -> Result<(), ApiError> {
        self.0.catalog.cancel(id).map_err(catalog_error)
    }

    /// Remove an installed voice of the configured engine.
    pub fn remove_voice(&self, id: &str) -> Result<(), ApiError> {
        self.0
            .catalog
            .remove(&self.0.live.get(), id)
            .map_err(catalog_error)
    }

    /// Each change of the voice installs.
    pub fn watch_installs(&self) -> watch::Receiver<Vec<crate::catalog::Install>> {
        self.0.catalog.installs()
    }
}

fn catalog_error(e: crate::catalog::CatalogError) -> ApiError {
    catalog_error_as(e, Code::VoiceBusy)
}

/// A catalog's error; a conflict has code `busy`.
pub(super) fn catalog_error_as(e: crate::catalog::CatalogError, busy: Code) -> ApiError {
    use crate::catalog::CatalogError;
    match e {
        CatalogError::NotFound(message) => ApiError::not_found(message),
        CatalogError::Conflict(message) => ApiError::conflict(busy, message),
        CatalogError::Unavailable { said: message, .. } => {
            ApiError::bad_gateway(Code::CatalogUnavailable, message)
        }
    }
}
