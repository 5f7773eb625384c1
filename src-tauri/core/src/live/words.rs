//! Words while audio still arrives, for every front door that hears live (the Realtime
//! WebSocket, Wyoming's streaming transcripts): when an utterance has grown enough to decode
//! again ([`Words::due`]), the decode itself ([`decode`]), and what each decode adds
//! ([`Agreement`]).

use std::time::Instant;

use super::agreement::Agreement;
use crate::api_error::ApiError;
use crate::proxy::ProxyState;
use crate::transcription::decode::{Decoded, RATE};
use crate::transcription::engine::Options;

/// Audio an utterance gains between partial decodes.
pub const PARTIAL_STEP: usize = RATE as usize * 7 / 10;
/// An utterance is decoded for words once it holds this much.
pub const FIRST_PARTIAL: usize = RATE as usize;

/// One utterance's words so far.
#[derive(Debug, Default)]
pub struct Words {
    agreement: Agreement,
    /// Samples its last partial decode covered.
    decoded: usize,
}

impl Words {
    /// Whether an utterance of `samples` should be decoded again.
    pub fn due(&self, samples: usize) -> bool {
        samples >= FIRST_PARTIAL && samples >= self.decoded + PARTIAL_STEP
    }

    /// What the next decode continues after (the words sent).
    pub fn prefix(&self) -> Option<String> {
        Some(self.agreement.sent().to_string()).filter(|p| !p.is_empty())
    }

    /// A partial decode of the first `covered` samples answered `continuation`: the words to
    /// send now, if two decodes agree on more.
    pub fn partial(&mut self, covered: usize, continuation: &str) -> Option<String> {
        self.decoded = covered;
        self.agreement.partial(continuation)
    }

    /// The final decode's continuation: the last words to send, and the whole transcript
    /// (every word sent, then those).
    pub fn finish(self, continuation: &str) -> (Option<String>, String) {
        self.agreement.finish(continuation)
    }
}

/// Whether the configured transcription engine continues after a prefix (Murmur's Whisper
/// route): only then are partial decodes worth their cost.
pub fn engine_streams(state: &ProxyState) -> bool {
    let engine = state.live().get().transcription.engine;
    matches!(
        crate::engine::transcription_engine(engine).transcribes_with(),
        crate::engine::Transcribes::MurmurPcm
    )
}

/// Transcribe `samples` (16 kHz) through the engine's gate, continuing after `options.prefix`;
/// the text, logged at debug with what it cost (`what` names the caller).
pub async fn decode(
    state: &ProxyState,
    samples: Vec<i16>,
    options: Options,
    what: &str,
) -> Result<String, ApiError> {
    let asked = Instant::now();
    let seconds = samples.len() as f64 / f64::from(RATE);
    let decoded = Decoded {
        samples,
        format: "pcm",
        seconds,
    };
    let result = crate::proxy::transcribe_with(state, decoded, options)
        .await
        .map(|t| t.text());
    tracing::debug!(
        what,
        seconds,
        took_ms = asked.elapsed().as_millis() as u64,
        "live: decoded {:?}",
        result.as_ref().map(String::as_str).unwrap_or("(failed)")
    );
    result
}
