//! A dictation from the shortcut to the text in place: the microphone's sound fed to the
//! core's [`Dictation`], its words shown while it listens, and at the end the text inserted,
//! kept in the history and counted in Activity — or, when it cannot be inserted, left on the
//! clipboard with a notification.

use std::sync::Arc;
use std::time::Instant;

use murmur_core::api_error::ApiError;
use murmur_core::desk::{Dictation, Heard, Listen};
use murmur_core::dictations::{Entry, Outcome};
use murmur_core::tray::Notice;
use tauri::async_runtime::JoinHandle;

use super::{Input, State};

/// Insert `text` where the cursor is, off the async threads (pasting waits for the app).
async fn insert(
    clipboard: Arc<std::sync::Mutex<arboard::Clipboard>>,
    text: String,
    method: murmur_core::config::InsertMethod,
) -> (Outcome, Option<String>) {
    tauri::async_runtime::spawn_blocking(move || {
        let mut clipboard = clipboard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        super::keys::insert(&mut clipboard, &text, method)
    })
    .await
    .unwrap_or((Outcome::OnClipboard, Some("Murmur's typing failed".into())))
}

/// How long the microphone keeps listening after the shortcut is released.
const TAIL: std::time::Duration = std::time::Duration::from_millis(250);

/// A dictation under way.
pub struct Dictating {
    feeding: JoinHandle<()>,
    feeder: murmur_core::desk::dictation::Feeder,
    began: Instant,
    /// The microphone was opened for this dictation alone (no pre-roll): closed after it.
    own_microphone: bool,
}

/// How a dictation ended, for the desk task.
#[derive(Debug)]
pub struct Ended {
    result: Result<Option<Heard>, ApiError>,
    began: Instant,
    began_ms: u64,
}

impl State {
    pub(super) fn begin_dictation(&mut self) {
        let own_microphone = self.microphone.is_none();
        if own_microphone {
            let settings = &self.settings.dictation;
            self.microphone = self.open_microphone(&settings.microphone, 0);
            self.share_level();
        }
        let Some(microphone) = &self.microphone else {
            self.tell(
                "Dictation cannot start",
                "Murmur cannot open the microphone: see the log for why.",
            );
            return;
        };
        let listen = Listen::from_settings(&self.settings);
        let mut dictation = match Dictation::start(self.proxy.clone(), listen) {
            Ok(dictation) => dictation,
            Err(e) => {
                self.tell("Dictation cannot start", e.message());
                return;
            }
        };
        let (began, began_ms) = (Instant::now(), murmur_core::time::unix_millis());
        let mut audio = microphone.listen();
        let words = dictation.words();
        let desk = self.desk.clone();
        let feeder = dictation.feeder();
        let released = dictation.feeder();
        let feeding = tauri::async_runtime::spawn(async move {
            let mut fed = true;
            let result = loop {
                tokio::select! {
                    samples = audio.recv(), if fed => match samples {
                        Some(samples) => feeder.hear(samples),
                        None => {
                            feeder.finish();
                            fed = false;
                        }
                    },
                    result = dictation.heard() => break result,
                }
            };
            desk.send(Input::Heard(Ended {
                result,
                began,
                began_ms,
            }));
        });
        crate::tray::show_listening(&self.app, words, self.level_meter());
        self.grab_escape(true);
        self.dictation = Some(Dictating {
            feeding,
            feeder: released,
            began,
            own_microphone,
        });
        tracing::info!("desk: dictating");
    }

    /// The shortcut was released (or pressed again): the rest is decoded, then inserted.
    /// The key comes up as the last word ends: the microphone listens a moment longer
    /// ([`TAIL`]) before the dictation's sound ends and its task decodes what is left.
    pub(super) fn finish_dictation(&mut self) {
        let Some(dictating) = &self.dictation else {
            return;
        };
        dictating.feeder.released();
        let (desk, began) = (self.desk.clone(), dictating.began);
        tauri::async_runtime::spawn(async move {
            tokio::time::sleep(TAIL).await;
            desk.send(Input::EndOfSpeech(began));
        });
    }

    /// [`TAIL`] after the release: the dictation that began at `began` hears no more.
    pub(super) fn end_of_speech(&mut self, began: Instant) {
        if self.dictation.as_ref().is_some_and(|d| d.began == began)
            && let Some(microphone) = &self.microphone
        {
            microphone.stop_listening();
        }
    }

    /// Esc: nothing is decoded, inserted or kept.
    pub(super) fn cancel_dictation(&mut self) {
        if let Some(dictating) = self.dictation.take() {
            dictating.feeding.abort();
            self.after_dictation(dictating.own_microphone);
            tracing::info!("desk: dictation cancelled");
        }
    }

    fn after_dictation(&mut self, own_microphone: bool) {
        if let Some(microphone) = &self.microphone {
            microphone.stop_listening();
        }
        if own_microphone {
            self.microphone = None;
            self.share_level();
        }
        self.grab_escape(false);
        crate::tray::show_desk(&self.app, &self.settings, self.reading.is_some());
    }

    /// A dictation ended: insert its text where the cursor is.
    pub(super) fn heard(&mut self, ended: Ended) {
        let Some(dictating) = self.dictation.take() else {
            return;
        };
        if dictating.began != ended.began {
            return;
        }
        self.after_dictation(dictating.own_microphone);
        let heard = match ended.result {
            Ok(Some(heard)) => heard,
            Ok(None) => return,
            Err(e) => {
                self.tell("Dictation did not work", e.message());
                return;
            }
        };
        if heard.text.is_empty() {
            tracing::info!("desk: dictation heard no words");
            return;
        }
        let (app, control, settings) = (
            self.app.clone(),
            self.control.clone(),
            self.settings.clone(),
        );
        let Some(clipboard) = self.clipboard.clone() else {
            self.tell(
                "Dictation",
                &format!(
                    "No clipboard or keyboard to put it in. You said: {}",
                    heard.text
                ),
            );
            return;
        };
        tauri::async_runtime::spawn(async move {
            let (outcome, why) =
                insert(clipboard, heard.text.clone(), settings.dictation.insert).await;
            let total_ms = ended.began.elapsed().as_secs_f64() * 1000.0;
            murmur_core::desk::record(control.metrics(), ended.began_ms, total_ms, &heard);
            tracing::info!(
                audio_secs = heard.audio_secs,
                text_ms = heard.text_ms,
                "desk: dictation {outcome:?}: {:?}",
                heard.text
            );
            if settings.dictation.history
                && let Err(e) = control.dictations().add(Entry {
                    id: 0,
                    at_ms: ended.began_ms,
                    text: heard.text.clone(),
                    audio_secs: heard.audio_secs,
                    text_ms: heard.text_ms,
                    outcome,
                })
            {
                tracing::warn!("desk: cannot keep the dictation in the history: {e}");
            }
            if let Some(why) = why {
                crate::desktop::notify(
                    &app,
                    &Notice {
                        title: "Your dictation is on the clipboard".into(),
                        body: format!(
                            "It could not be inserted: {why}. Paste it where you want it."
                        ),
                    },
                );
            }
        });
    }

    /// The page's "Insert again": after `delay` (time to click where it goes).
    pub(super) fn insert_later(&self, text: String, delay: std::time::Duration) {
        let Some(clipboard) = self.clipboard.clone() else {
            return;
        };
        let (app, method) = (self.app.clone(), self.settings.dictation.insert);
        tauri::async_runtime::spawn(async move {
            tokio::time::sleep(delay).await;
            if let (_, Some(why)) = insert(clipboard, text, method).await {
                crate::desktop::notify(
                    &app,
                    &Notice {
                        title: "The dictation is on the clipboard".into(),
                        body: format!("It could not be inserted: {why}."),
                    },
                );
            }
        });
    }

    fn level_meter(&self) -> Option<Arc<dyn Fn() -> f32 + Send + Sync>> {
        let microphone = self.microphone.as_ref()?;
        Some(Arc::new(microphone.level_handle()))
    }

    pub(super) fn tell(&self, title: &str, body: &str) {
        tracing::warn!("desk: {title}: {body}");
        crate::desktop::notify(
            &self.app,
            &Notice {
                title: title.into(),
                body: body.into(),
            },
        );
    }
}
