//! Murmur at the desk: dictation (hold a shortcut, talk, and the words land in the app that
//! has focus) and read aloud (a shortcut speaks the selected text), on the engines Murmur
//! already serves — nothing loaded twice.
//!
//! What is here is what needs no keyboard, microphone or speaker: a dictation's decoding
//! ([`dictation`], the live path's partial decodes), the sound conversions and pre-roll
//! ([`sound`]), text made for the ear ([`readable`]) and spoken piece by piece
//! ([`read_aloud`]), and a dictation's line in Activity ([`record`]). The desktop shell owns
//! the devices: global shortcuts, the microphone and speakers, the clipboard and the
//! selection, and typing into other apps. Headless `murmurd` has none of this.

pub mod dictation;
pub mod read_aloud;
pub mod readable;
pub mod sound;

pub use dictation::{Dictation, Heard, Listen};

use crate::metrics::{Metrics, Recent, TranscribedAudio};

/// What Activity shows for a dictation: when it began, how long it was, how long the text
/// took after the shortcut was released (as "first byte"), and the whole.
pub fn record(metrics: &Metrics, began_ms: u64, total_ms: f64, heard: &Heard) {
    metrics.record("dictation", 200, total_ms);
    metrics.finished(Recent {
        at_ms: began_ms,
        method: "KEY".into(),
        path: "dictation".into(),
        status: 200,
        format: None,
        agent: "Murmur dictation".into(),
        first_byte_ms: Some((heard.text_ms * 10.0).round() / 10.0),
        total_ms: (total_ms * 10.0).round() / 10.0,
        bytes: heard.text.len() as u64,
        complete: true,
        transcribed: Some(TranscribedAudio {
            audio_secs: (heard.audio_secs * 1000.0).round() / 1000.0,
            audio_format: "pcm",
        }),
    });
}
