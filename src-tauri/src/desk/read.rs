//! Reading aloud: the selection (or the clipboard) prepared for the ear and spoken through
//! the speech engine to the speakers as its audio comes. The same shortcut stops it; a text
//! from the tray while one is read replaces it or waits its turn (`[read_aloud] when_busy`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use murmur_core::config::WhenBusy;
use murmur_core::desk::{read_aloud, readable};
use tauri::async_runtime::JoinHandle;
use tokio::sync::mpsc;

use super::speaker::Speaker;
use super::{Input, State};

/// Audio queued at the speakers beyond which the reading waits for them.
const AHEAD_SECS: f64 = 2.0;

/// A reading under way: aborting its task stops the engine's stream and the speakers.
pub struct Reading {
    task: JoinHandle<()>,
}

impl State {
    /// The read-aloud shortcut: the selection, else the clipboard.
    pub(super) async fn read_selection(&mut self) {
        let Some(clipboard) = self.clipboard.clone() else {
            self.tell(
                "Read aloud",
                "There is no clipboard or selection to read from.",
            );
            return;
        };
        let text = tauri::async_runtime::spawn_blocking(move || {
            let mut clipboard = clipboard
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            super::keys::selection(&mut clipboard)
        })
        .await
        .ok()
        .flatten();
        match text {
            Some(text) => self.begin_reading(text),
            None => self.tell(
                "Nothing to read",
                "Select some text (or copy it), then press the shortcut again.",
            ),
        }
    }

    /// The tray's "Read the clipboard aloud".
    pub(super) async fn read_clipboard(&mut self) {
        let text = self.clipboard.as_ref().and_then(|c| {
            c.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get_text()
                .ok()
        });
        let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
            self.tell("Nothing to read", "The clipboard holds no text.");
            return;
        };
        if self.reading.is_some() && self.settings.read_aloud.when_busy == WhenBusy::Queue {
            self.queued.push_back(text);
            return;
        }
        self.stop_reading();
        self.begin_reading(text);
    }

    pub(super) fn begin_reading(&mut self, text: String) {
        let prepared = readable::prepare(&text);
        if prepared.trim().is_empty() {
            self.tell("Nothing to read", "The text had no words to say.");
            return;
        }
        let Some(speaker) = self.speakers() else {
            self.tell(
                "Read aloud",
                "Murmur cannot open the speakers: see the log for why.",
            );
            return;
        };
        let (proxy, desk, app) = (self.proxy.clone(), self.desk.clone(), self.app.clone());
        let asked = Instant::now();
        let task = tauri::async_runtime::spawn(async move {
            if let Err(e) = speak(&proxy, &prepared, &speaker, asked).await {
                tracing::warn!("read aloud: {e}");
                crate::desktop::notify(
                    &app,
                    &murmur_core::tray::Notice {
                        title: "Read aloud did not work".into(),
                        body: e,
                    },
                );
            }
            desk.send(Input::ReadingDone);
        });
        self.reading = Some(Reading { task });
        crate::tray::show_desk(&self.app, &self.settings, true);
        tracing::info!(chars = text.chars().count(), "read aloud: reading");
    }

    /// Stop at once: the speakers fall silent and the engine's stream is dropped.
    pub(super) fn stop_reading(&mut self) {
        if let Some(reading) = self.reading.take() {
            // The task may be on another thread, between two awaits, about to queue more:
            // the speakers' new reading number drops whatever it still queues.
            reading.task.abort();
            if let Some(speaker) = &self.speaker {
                speaker.reset();
            }
            tracing::info!("read aloud: stopped");
        }
        crate::tray::show_desk(&self.app, &self.settings, false);
    }
}

impl State {
    /// The open speakers, opened now if they are not.
    pub(super) fn speakers(&mut self) -> Option<Arc<Speaker>> {
        if self.speaker.is_none() {
            match Speaker::open() {
                Ok(speaker) => {
                    tracing::info!(
                        rate = speaker.rate,
                        channels = speaker.channels,
                        "read aloud: speakers open"
                    );
                    self.speaker = Some(Arc::new(speaker));
                }
                Err(e) => tracing::warn!("read aloud: {e}"),
            }
        }
        self.speaker.clone()
    }
}

/// Speak `text` to the speakers; returns once it has all been heard.
async fn speak(
    proxy: &murmur_core::proxy::ProxyState,
    text: &str,
    speaker: &Speaker,
    asked: Instant,
) -> Result<(), String> {
    let reading = speaker.reset();
    let (audio, mut chunks) = mpsc::channel::<Bytes>(8);
    let engine = read_aloud::speak(proxy, text, audio);
    tokio::pin!(engine);
    let mut convert = speaker.converter(read_aloud::RATE)?;
    let mut engine_done = false;
    let mut first_audio = None;
    loop {
        tokio::select! {
            result = &mut engine, if !engine_done => {
                engine_done = true;
                result.map_err(|e| e.message().to_string())?;
            }
            chunk = chunks.recv() => match chunk {
                Some(chunk) => {
                    first_audio.get_or_insert_with(Instant::now);
                    speaker.play(reading, &convert.push(&chunk).map_err(|e| e.to_string())?);
                    while speaker.queued_secs() > AHEAD_SECS {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
                None => break,
            },
        }
    }
    speaker.play(reading, &convert.finish().map_err(|e| e.to_string())?);
    speaker.complete(reading);
    while !speaker.drained() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ms = |at: Option<Instant>| at.map(|at| at.duration_since(asked).as_secs_f64() * 1000.0);
    tracing::info!(
        engine_first_audio_ms = ms(first_audio),
        first_sound_ms = ms(speaker.first_sound()),
        "read aloud: done"
    );
    Ok(())
}
