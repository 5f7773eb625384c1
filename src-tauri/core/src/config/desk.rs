//! `[dictation]` and `[read_aloud]`: Murmur at the desk. Only the desktop app acts on them
//! (headless `murmurd` reads and checks them, and has no keyboard or speakers to use).

use serde::{Deserialize, Serialize};

use super::validate::{FieldError, fail};
use crate::shortcut::Shortcut;

/// `[dictation]`: hold a key, talk, and the words are inserted where the cursor is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DictationSettings {
    pub enabled: bool,
    /// `Ctrl+Alt+Space`: used by no common app or desktop.
    pub shortcut: String,
    pub mode: DictationMode,
    pub insert: InsertMethod,
    /// The input device's name; empty: the system's default.
    pub microphone: String,
    /// Audio from just before the shortcut went down, kept so the first syllable is not
    /// lost. Above 0 the microphone stays open while dictation is on (its sound kept in
    /// memory for this long only); 0 opens it when the shortcut goes down.
    pub preroll_ms: u64,
    /// Names and terms Whisper should expect (its prompt and hotwords).
    pub words: Vec<String>,
    /// Keep the last 50 dictations' text (never their audio) in Murmur's data folder.
    pub history: bool,
}

impl Default for DictationSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            shortcut: "Ctrl+Alt+Space".into(),
            mode: DictationMode::Hold,
            insert: InsertMethod::Paste,
            microphone: String::new(),
            preroll_ms: 500,
            words: Vec::new(),
            history: true,
        }
    }
}

/// Hold the shortcut while talking, or press it once to start and again to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DictationMode {
    Hold,
    /// Also stops by itself after a pause (the live VAD's silence).
    Toggle,
}

/// How the text reaches the app that has focus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InsertMethod {
    /// Through the clipboard and the paste keys; the clipboard is put back afterwards.
    Paste,
    /// Typed key by key (terminals, fields that refuse pastes).
    Type,
}

/// `[read_aloud]`: a shortcut that speaks the selected text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReadAloudSettings {
    pub enabled: bool,
    /// Pressed while reading, it stops.
    pub shortcut: String,
    /// What a new request does while one is read.
    pub when_busy: WhenBusy,
}

impl Default for ReadAloudSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            shortcut: "Ctrl+Alt+R".into(),
            when_busy: WhenBusy::Replace,
        }
    }
}

/// A second text while one is read (from the tray; the shortcut itself stops reading).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WhenBusy {
    Replace,
    Queue,
}

/// The longest pre-roll: longer would only delay what was said before the key.
pub const MAX_PREROLL_MS: u64 = 3000;

/// Named fields that are wrong.
pub(super) fn check(
    dictation: &DictationSettings,
    read_aloud: &ReadAloudSettings,
    errors: &mut Vec<FieldError>,
) {
    let mut fail = |key: &str, message: String| fail(errors, key, message);
    let dictate = Shortcut::parse(&dictation.shortcut);
    if let Err(e) = &dictate {
        fail(
            "dictation.shortcut",
            format!("{:?} {e}", dictation.shortcut),
        );
    }
    let read = Shortcut::parse(&read_aloud.shortcut);
    if let Err(e) = &read {
        fail(
            "read_aloud.shortcut",
            format!("{:?} {e}", read_aloud.shortcut),
        );
    }
    if let (Ok(dictate), Ok(read)) = (dictate, read)
        && dictate == read
        && dictation.enabled
        && read_aloud.enabled
    {
        fail(
            "read_aloud.shortcut",
            format!("{read} is dictation's shortcut too: pick another"),
        );
    }
    if dictation.preroll_ms > MAX_PREROLL_MS {
        fail(
            "dictation.preroll_ms",
            format!("must be from 0 to {MAX_PREROLL_MS}"),
        );
    }
    if dictation.words.len() > 100 || dictation.words.iter().any(|w| w.chars().count() > 100) {
        fail(
            "dictation.words",
            "at most 100 words or phrases of at most 100 characters".into(),
        );
    }
}
