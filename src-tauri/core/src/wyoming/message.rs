//! Wyoming's events as Murmur reads and writes them: [`Incoming`] (what a client asks) and
//! [`Outgoing`] (what Murmur answers), each a variant with its fields. The wire's frames
//! ([`super::event::Frame`]: a type, a JSON map, a payload) are turned into these once, at the
//! edge; the session never looks a field up by name.

use bytes::Bytes;
use serde_json::{Value, json};

use super::event::Frame;

/// The PCM format an `audio-start` or `audio-chunk` declares; what it leaves out is
/// Wyoming's default (16 kHz, 16-bit, mono).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Declared {
    pub rate: Option<u64>,
    pub width: Option<u64>,
    pub channels: Option<u64>,
}

impl Declared {
    pub const DEFAULT_RATE: u64 = 16_000;
    pub const DEFAULT_WIDTH: u64 = 2;
    pub const DEFAULT_CHANNELS: u64 = 1;

    fn of(frame: &Frame) -> Self {
        Self {
            rate: frame.number("rate"),
            width: frame.number("width"),
            channels: frame.number("channels"),
        }
    }

    /// (rate, width, channels), defaults filled in.
    pub fn filled(self) -> (u64, u64, u64) {
        (
            self.rate.unwrap_or(Self::DEFAULT_RATE),
            self.width.unwrap_or(Self::DEFAULT_WIDTH),
            self.channels.unwrap_or(Self::DEFAULT_CHANNELS),
        )
    }
}

/// What a client sends.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// What Murmur serves: answered with `info`.
    Describe,
    /// Speak `text`; `voice` is Wyoming's `{name, language, speaker}`.
    Synthesize {
        text: String,
        voice: Option<Value>,
    },
    /// Streaming synthesis begins: text follows in chunks, spoken sentence by sentence.
    SynthesizeStart {
        voice: Option<Value>,
    },
    SynthesizeChunk {
        text: String,
    },
    SynthesizeStop,
    /// The audio that follows is to be transcribed, in `language` if given.
    Transcribe {
        language: Option<String>,
    },
    AudioStart(Declared),
    AudioChunk(Declared, Option<Bytes>),
    AudioStop,
    Ping,
    /// An event not for this server (`select-program`, a satellite's): ignored.
    Other(String),
}

impl Incoming {
    /// The event `frame` carries.
    pub fn from_frame(frame: Frame) -> Self {
        let text = |key: &str| frame.text(key).unwrap_or_default().to_string();
        let voice = || frame.data.get("voice").cloned();
        match frame.kind.as_str() {
            "describe" => Self::Describe,
            "synthesize" => Self::Synthesize {
                text: text("text"),
                voice: voice(),
            },
            "synthesize-start" => Self::SynthesizeStart { voice: voice() },
            "synthesize-chunk" => Self::SynthesizeChunk { text: text("text") },
            "synthesize-stop" => Self::SynthesizeStop,
            "transcribe" => Self::Transcribe {
                language: frame.text("language").map(String::from),
            },
            "audio-start" => Self::AudioStart(Declared::of(&frame)),
            "audio-chunk" => Self::AudioChunk(Declared::of(&frame), frame.payload.clone()),
            "audio-stop" => Self::AudioStop,
            "ping" => Self::Ping,
            _ => Self::Other(frame.kind),
        }
    }
}

/// What Murmur sends.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    /// The answer to `describe` (built by [`super::info`]).
    Info(Value),
    /// Synthesised audio: 16-bit mono PCM at `rate`.
    AudioStart {
        rate: u32,
    },
    AudioChunk {
        rate: u32,
        pcm: Bytes,
    },
    AudioStop,
    SynthesizeStopped,
    Transcript {
        text: String,
        language: Option<String>,
    },
    /// A streaming transcript begins (before its first chunk).
    TranscriptStart {
        language: Option<String>,
    },
    /// Words of the transcript, as they are decided (they concatenate to its text).
    TranscriptChunk {
        text: String,
    },
    /// The streaming transcript is over (after the whole `transcript`).
    TranscriptStop,
    /// A request Murmur could not serve; the connection stays usable.
    Error {
        text: String,
        code: String,
    },
    Pong,
}

impl Outgoing {
    /// The frame that carries it.
    pub fn frame(self) -> Frame {
        let pcm = |rate: u32| json!({ "rate": rate, "width": 2, "channels": 1 });
        match self {
            Self::Info(info) => Frame::new("info", info),
            Self::AudioStart { rate } => Frame::new("audio-start", pcm(rate)),
            Self::AudioChunk { rate, pcm: bytes } => {
                Frame::new("audio-chunk", pcm(rate)).with_payload(bytes)
            }
            Self::AudioStop => Frame::new("audio-stop", Value::Null),
            Self::SynthesizeStopped => Frame::new("synthesize-stopped", Value::Null),
            Self::Transcript { text, language } => {
                let mut data = json!({ "text": text });
                if let Some(language) = language {
                    data["language"] = language.into();
                }
                Frame::new("transcript", data)
            }
            Self::TranscriptStart { language } => Frame::new(
                "transcript-start",
                language.map_or(Value::Null, |l| json!({ "language": l })),
            ),
            Self::TranscriptChunk { text } => {
                Frame::new("transcript-chunk", json!({ "text": text }))
            }
            Self::TranscriptStop => Frame::new("transcript-stop", Value::Null),
            Self::Error { text, code } => Frame::new("error", json!({"text": text, "code": code})),
            Self::Pong => Frame::new("pong", Value::Null),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_become_events_with_their_fields_and_back() {
        let frame = Frame::new(
            "synthesize",
            json!({"text": "Hello.", "voice": {"name": "joe"}}),
        );
        assert_eq!(
            Incoming::from_frame(frame),
            Incoming::Synthesize {
                text: "Hello.".into(),
                voice: Some(json!({"name": "joe"})),
            }
        );
        let chunk = Frame::new("audio-chunk", json!({"rate": 22050, "channels": 2}))
            .with_payload(Bytes::from_static(&[0, 0]));
        let Incoming::AudioChunk(declared, payload) = Incoming::from_frame(chunk) else {
            panic!("an audio chunk");
        };
        assert_eq!(declared.filled(), (22_050, 2, 2));
        assert_eq!(payload.as_deref(), Some(&[0u8, 0][..]));
        assert_eq!(
            Incoming::from_frame(Frame::new("run-satellite", Value::Null)),
            Incoming::Other("run-satellite".into())
        );

        let transcript = Outgoing::Transcript {
            text: "hi".into(),
            language: Some("en".into()),
        }
        .frame();
        assert_eq!(transcript.kind, "transcript");
        assert_eq!(transcript.data["language"], "en");
        let untold = Outgoing::Transcript {
            text: "hi".into(),
            language: None,
        }
        .frame();
        assert!(!untold.data.contains_key("language"));
        let audio = Outgoing::AudioChunk {
            rate: 24_000,
            pcm: Bytes::from_static(&[1, 2]),
        }
        .frame();
        assert_eq!(audio.data["rate"], 24_000);
        assert_eq!(audio.payload.as_deref(), Some(&[1u8, 2][..]));
    }
}
