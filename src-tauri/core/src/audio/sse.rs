//! OpenAI's speech event stream (`stream_format: "sse"`): each piece of audio as a
//! `speech.audio.delta` event with base64 data, then one `speech.audio.done`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Frames pieces of audio as events and counts what went out.
#[derive(Debug, Default)]
pub struct Framer {
    bytes: u64,
}

impl Framer {
    pub fn delta(&mut self, audio: &[u8]) -> Vec<u8> {
        self.bytes += audio.len() as u64;
        let event = serde_json::json!({
            "type": "speech.audio.delta",
            "audio": STANDARD.encode(audio),
        });
        format!("data: {event}\n\n").into_bytes()
    }

    pub fn done(&mut self) -> Vec<u8> {
        let event = serde_json::json!({
            "type": "speech.audio.done",
            "usage": {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0},
        });
        format!("data: {event}\n\n").into_bytes()
    }

    /// Audio bytes sent in deltas so far.
    pub fn audio_bytes(&self) -> u64 {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_carry_the_audio_and_done_closes() {
        let mut framer = Framer::default();
        let event = String::from_utf8(framer.delta(b"\x00\x01abc")).expect("text");
        assert!(
            event.starts_with("data: {") && event.ends_with("}\n\n"),
            "{event}"
        );
        let json: serde_json::Value =
            serde_json::from_str(event.trim_start_matches("data: ").trim()).expect("json");
        assert_eq!(json["type"], "speech.audio.delta");
        let audio = STANDARD
            .decode(json["audio"].as_str().expect("audio"))
            .expect("base64");
        assert_eq!(audio, b"\x00\x01abc");
        let done = String::from_utf8(framer.done()).expect("text");
        assert!(done.contains("\"speech.audio.done\""), "{done}");
        assert_eq!(framer.audio_bytes(), 5);
    }
}
