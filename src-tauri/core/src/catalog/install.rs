//! Installing a voice: one download at a time per voice, its progress in the installs list,
//! cancellable.

use super::*;

impl Catalog {
    /// Start installing voice `id` of `settings`' engine; progress is in [`Self::installs`].
    /// Answers once the download has started (or the voice was already there).
    pub async fn install(&self, settings: &Settings, id: &str) -> Result<Install, CatalogError> {
        let (listing, files) = self.list_with_files(settings).await?;
        let engine = listing.engine;
        let Some(position) = listing.voices.iter().position(|v| v.id == id) else {
            return Err(CatalogError::NotFound(format!(
                "{} has no voice {id:?} in its catalog",
                engine.as_str()
            )));
        };
        let entry = &listing.voices[position];
        let remote = files[position].clone();
        if entry.installed {
            return Ok(self.record(
                engine,
                id,
                InstallState::Installed,
                entry.size.unwrap_or(0),
                entry.size,
                None,
            ));
        }
        if remote.is_empty() {
            return Err(CatalogError::Unavailable {
                said: format!(
                    "{id} cannot be downloaded now: {}",
                    listing
                        .note
                        .as_deref()
                        .unwrap_or("the index does not say where it is")
                ),
                source: None,
            });
        }
        let cancel = Cancel::default();
        {
            let mut cancels = self.0.cancels.lock().unwrap_or_else(|e| e.into_inner());
            if cancels.contains_key(id) {
                return Err(CatalogError::Conflict(format!(
                    "{id} is already being installed"
                )));
            }
            cancels.insert(id.to_string(), cancel.clone());
        }
        let total: u64 = remote.iter().map(|r| r.size).sum();
        let started = self.record(engine, id, InstallState::Downloading, 0, Some(total), None);
        let dir = voices_dir(settings, &self.0.data_dir);
        let catalog = self.clone();
        let id = id.to_string();
        tokio::spawn(async move {
            let staging = catalog.0.data_dir.join("voices").join("downloads");
            let progress = |done: u64| {
                catalog.record(
                    engine,
                    &id,
                    InstallState::Downloading,
                    done,
                    Some(total),
                    None,
                );
            };
            let outcome = crate::voices::download(
                &remote,
                &staging,
                &dir,
                &catalog.0.policy,
                &progress,
                &cancel,
            )
            .await;
            catalog
                .0
                .cancels
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
            match outcome {
                Ok(()) => {
                    catalog.0.generation.fetch_add(1, Ordering::SeqCst);
                    catalog.record(
                        engine,
                        &id,
                        InstallState::Installed,
                        total,
                        Some(total),
                        None,
                    );
                }
                Err(FetchError::Cancelled) => {
                    catalog.record(engine, &id, InstallState::Cancelled, 0, Some(total), None);
                }
                Err(e) => {
                    catalog.record(
                        engine,
                        &id,
                        InstallState::Failed,
                        0,
                        Some(total),
                        Some(e.to_string()),
                    );
                }
            }
        });
        Ok(started)
    }

    fn record(
        &self,
        engine: EngineId,
        voice: &str,
        state: InstallState,
        done: u64,
        total: Option<u64>,
        error: Option<String>,
    ) -> Install {
        let install = Install {
            engine,
            voice: voice.to_string(),
            state,
            done,
            total,
            error,
        };
        let copy = install.clone();
        self.0.installs.send_modify(|installs| {
            installs.retain(|i| !(i.voice == voice && i.engine == engine));
            installs.push(copy);
        });
        install
    }

    /// Stop installing `id`.
    pub fn cancel(&self, id: &str) -> Result<(), CatalogError> {
        match self
            .0
            .cancels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
        {
            Some(cancel) => {
                cancel.cancel();
                Ok(())
            }
            None => Err(CatalogError::NotFound(format!(
                "{id} is not being installed"
            ))),
        }
    }
}
