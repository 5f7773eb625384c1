//! Murmur at the desk: the dictation and read-aloud shortcuts, on the engines the core already
//! runs. The core decides what is heard and said (`murmur_core::desk`); this module owns the
//! devices and the keys: global shortcuts, the microphone ([`microphone`]), the speakers
//! ([`speaker`]), the clipboard, the selection and typing into other apps ([`keys`]).
//!
//! One task ([`run`]) owns the state and takes [`Input`]s one at a time — shortcut presses
//! and releases, tray choices, settings changes, and the end of a dictation or a reading — so
//! nothing races: a release never meets a dictation half started.

mod dictate;
mod keys;
pub mod microphone;
mod portal;
mod read;
mod remote;
mod shortcuts;
mod speaker;

use std::sync::{Arc, Mutex};

use murmur_core::config::{DictationMode, Settings};
use murmur_core::control::Control;
use murmur_core::proxy::ProxyState;
use tauri::{AppHandle, Manager};
use tokio::sync::mpsc;

use shortcuts::Keys;
pub use shortcuts::plugin;

/// What the desk reacts to.
#[derive(Debug)]
pub enum Input {
    DictateDown,
    DictateUp,
    Escape,
    ReadKey,
    /// The tray's "Read the clipboard aloud".
    ReadClipboard,
    StopReading,
    Settings(Arc<Settings>),
    /// The moment after a release: the dictation that began then hears no more.
    EndOfSpeech(std::time::Instant),
    /// A dictation ended (released, by silence, or failed).
    Heard(dictate::Ended),
    /// A reading finished by itself (the next queued one may start).
    ReadingDone,
    /// The page's "Insert again": `text` into whatever has the focus after the delay.
    Insert(String, std::time::Duration),
    /// The desktop portal's answer to the shortcuts asked for in that round of
    /// [`State::take_shortcuts`].
    Portal(u64, shortcuts::PortalAnswer),
}

/// The desk's inbox, managed by the app.
#[derive(Clone)]
pub struct Desk(mpsc::UnboundedSender<Input>);

impl Desk {
    pub fn send(&self, input: Input) {
        let _ = self.0.send(input);
    }
}

/// The loudness of the open microphone, when one is open.
type Level = Arc<Mutex<Option<Arc<dyn Fn() -> f32 + Send + Sync>>>>;

/// How shortcuts and text go on this desktop, in a sentence (`State::tell_ways`).
type Ways = Arc<Mutex<String>>;

/// What the control API asks of the desk (the page's Dictation card).
struct ForControl {
    desk: Desk,
    level: Level,
    ways: Ways,
}

impl murmur_core::control::Desk for ForControl {
    fn microphones(&self) -> Vec<String> {
        microphone::names()
    }

    fn level(&self) -> Option<f32> {
        let level = self
            .level
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        level.map(|level| level())
    }

    fn ways(&self) -> String {
        self.ways
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn insert(&self, text: String, delay: std::time::Duration) {
        self.desk.send(Input::Insert(text, delay));
    }
}

/// Start the desk for the running core: shortcuts registered, the microphone opened when the
/// pre-roll needs it, and settings followed.
pub fn start(app: &AppHandle, proxy: ProxyState, control: Control) {
    let (inbox, inputs) = mpsc::unbounded_channel();
    let desk = Desk(inbox);
    app.manage(desk.clone());
    app.manage(Mutex::new(Keys::default()));
    let level = Level::default();
    let ways = Ways::default();
    control.attach_desk(Arc::new(ForControl {
        desk: desk.clone(),
        level: level.clone(),
        ways: ways.clone(),
    }));
    let mut changes = proxy.live().subscribe();
    let follower = desk.clone();
    tauri::async_runtime::spawn(async move {
        while changes.changed().await.is_ok() {
            let settings = changes.borrow_and_update().clone();
            follower.send(Input::Settings(settings));
        }
    });
    let mut state = State::new(app.clone(), proxy, control, desk);
    state.level = level;
    state.ways = ways;
    tauri::async_runtime::spawn(run(state, inputs));
}

/// Everything the desk task owns.
struct State {
    app: AppHandle,
    proxy: ProxyState,
    control: Control,
    desk: Desk,
    settings: Arc<Settings>,
    clipboard: Option<Arc<Mutex<arboard::Clipboard>>>,
    microphone: Option<microphone::Microphone>,
    dictation: Option<dictate::Dictating>,
    reading: Option<read::Reading>,
    /// The speakers, open while read aloud is on.
    speaker: Option<Arc<speaker::Speaker>>,
    queued: std::collections::VecDeque<String>,
    /// The open microphone's level, for the page.
    level: Level,
    /// How shortcuts and text go here, for the page.
    ways: Ways,
    /// The shortcuts held through the desktop portal (Wayland).
    portal: Option<portal::Bound>,
    /// Which round of [`State::take_shortcuts`] the portal's answer must be for.
    portal_round: u64,
    /// The portal refused or is missing: the shortcut plugin it is, then.
    without_portal: bool,
}

impl State {
    fn new(app: AppHandle, proxy: ProxyState, control: Control, desk: Desk) -> Self {
        let settings = proxy.live().get();
        let clipboard = arboard::Clipboard::new()
            .inspect_err(|e| tracing::warn!("desk: no clipboard: {e}"))
            .ok()
            .map(|c| Arc::new(Mutex::new(c)));
        Self {
            app,
            proxy,
            control,
            desk,
            settings,
            clipboard,
            microphone: None,
            dictation: None,
            reading: None,
            speaker: None,
            queued: std::collections::VecDeque::new(),
            level: Level::default(),
            ways: Ways::default(),
            portal: None,
            portal_round: 0,
            without_portal: false,
        }
    }

    /// Register the configured shortcuts (the old ones first let go) and open or close the
    /// microphone as the pre-roll needs.
    fn apply(&mut self) {
        self.take_shortcuts();
        let dictation = &self.settings.dictation;
        let warm = dictation.enabled && dictation.preroll_ms > 0;
        let wanted = warm.then(|| (dictation.microphone.clone(), dictation.preroll_ms));
        let open = self
            .microphone
            .as_ref()
            .map(|m| (m.wanted.clone(), m.preroll_ms));
        if self.dictation.is_none() && wanted != open {
            self.microphone = None;
            if let Some((name, preroll_ms)) = wanted {
                self.microphone = self.open_microphone(&name, preroll_ms);
            }
            self.share_level();
        }
        if self.settings.read_aloud.enabled {
            let _ = self.speakers();
        } else if self.reading.is_none() {
            self.speaker = None;
        }
        if !self.settings.dictation.history {
            let _ = self.control.dictations().clear();
        }
        crate::tray::show_desk(&self.app, &self.settings, self.reading.is_some());
    }

    /// Let the page read the open microphone's level.
    fn share_level(&self) {
        let level = self.microphone.as_ref().map(|m| {
            let level: Arc<dyn Fn() -> f32 + Send + Sync> = Arc::new(m.level_handle());
            level
        });
        *self
            .level
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = level;
    }

    fn open_microphone(&self, name: &str, preroll_ms: u64) -> Option<microphone::Microphone> {
        match microphone::Microphone::open(name, preroll_ms) {
            Ok(microphone) => Some(microphone),
            Err(e) => {
                tracing::warn!("desk: {e}");
                None
            }
        }
    }
}

async fn run(mut state: State, mut inputs: mpsc::UnboundedReceiver<Input>) {
    state.apply();
    while let Some(input) = inputs.recv().await {
        tracing::debug!("desk: {input:?}");
        let toggle = state.settings.dictation.mode == DictationMode::Toggle;
        match input {
            Input::DictateDown if state.dictation.is_some() && toggle => state.finish_dictation(),
            Input::DictateDown if state.dictation.is_none() => state.begin_dictation(),
            Input::DictateDown => {}
            Input::DictateUp if !toggle => state.finish_dictation(),
            Input::DictateUp => {}
            Input::Escape => state.cancel_dictation(),
            Input::EndOfSpeech(began) => state.end_of_speech(began),
            Input::Heard(ended) => state.heard(ended),
            Input::ReadKey if state.reading.is_some() => state.stop_reading(),
            Input::ReadKey => state.read_selection().await,
            Input::ReadClipboard => state.read_clipboard().await,
            Input::StopReading => {
                state.queued.clear();
                state.stop_reading();
            }
            Input::ReadingDone => {
                state.reading = None;
                if let Some(next) = state.queued.pop_front() {
                    state.begin_reading(next);
                } else {
                    crate::tray::show_desk(&state.app, &state.settings, false);
                }
            }
            Input::Insert(text, delay) => state.insert_later(text, delay),
            Input::Portal(round, answer) => state.portal_answered(round, answer),
            Input::Settings(settings) => {
                // Any saved setting arrives here; only the desk's own re-register its keys.
                let changed = settings.dictation != state.settings.dictation
                    || settings.read_aloud != state.settings.read_aloud;
                state.settings = settings;
                if changed {
                    state.apply();
                }
            }
        }
    }
}
