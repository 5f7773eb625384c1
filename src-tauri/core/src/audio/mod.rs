//! The audio pipeline: engines produce speech, Murmur produces the format.
//!
//! # Theory of operation
//!
//! A managed engine hands Murmur raw audio — s16le mono PCM at a rate it states, or WAV — and
//! never encodes anything itself. For every speech response, a [`Pipeline`] turns that byte
//! stream, chunk by chunk as it arrives, into what the client asked for:
//!
//! 1. [`source::Decoder`] reads the engine's bytes into mono `f32` samples (a WAV header, or
//!    several, is parsed on the way; a chunk may end anywhere, even inside a sample).
//! 2. [`resample::Resampler`] converts them to [`OUTPUT_RATE`] (24 kHz, OpenAI's rate for every
//!    format), keeping its filter state across chunks so sentences join without clicks.
//! 3. An [`encode::Encoder`] writes mp3, Ogg Opus, ADTS AAC, FLAC, WAV or raw PCM, emitting
//!    bytes as soon as the codec has a frame.
//! 4. Optionally, [`sse`] wraps each piece in OpenAI's `speech.audio.delta` events.
//!
//! Nothing here knows about HTTP: the proxy feeds a pipeline from the engine's response body
//! and hands its output to the client, so a client that leaves drops the pipeline and the
//! engine connection with it. An engine that encodes by itself (a `custom` one that says so)
//! is passed through ([`Pipeline::passthrough`]).

pub mod encode;
pub mod resample;
pub mod source;
pub mod sse;

use serde::{Deserialize, Serialize};

pub use encode::Encoder;
pub use resample::Resampler;
pub use source::Decoder;

/// The rate of every format Murmur sends: OpenAI's.
pub const OUTPUT_RATE: u32 = 24_000;

/// The audio formats of OpenAI's speech API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Mp3,
    Opus,
    Aac,
    Flac,
    Wav,
    Pcm,
}

impl Format {
    pub const ALL: [Format; 6] = [
        Self::Mp3,
        Self::Opus,
        Self::Aac,
        Self::Flac,
        Self::Wav,
        Self::Pcm,
    ];

    /// The name clients send in `response_format`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mp3 => "mp3",
            Self::Opus => "opus",
            Self::Aac => "aac",
            Self::Flac => "flac",
            Self::Wav => "wav",
            Self::Pcm => "pcm",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }

    /// The `Content-Type` OpenAI answers with.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Mp3 => "audio/mpeg",
            Self::Opus => "audio/opus",
            Self::Aac => "audio/aac",
            Self::Flac => "audio/flac",
            Self::Wav => "audio/wav",
            Self::Pcm => "audio/pcm",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an engine's speech response body holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineAudio {
    /// s16le mono at `rate` (an `X-Audio-Sample-Rate` response header overrides it).
    Pcm { rate: u32 },
    /// One or more WAV files back to back; each header says its rate and layout.
    Wav,
    /// Already in the client's format: passed through untouched.
    Encoded,
}

impl EngineAudio {
    /// The `response_format` to ask the engine for, when Murmur encodes.
    pub fn request_format(self) -> Option<Format> {
        match self {
            Self::Pcm { .. } => Some(Format::Pcm),
            Self::Wav => Some(Format::Wav),
            Self::Encoded => None,
        }
    }
}

/// Why audio could not be turned into the client's format.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("the engine's audio is not what it declared: {0}")]
    Source(String),
    #[error("cannot resample from {from} Hz: {message}")]
    Resample { from: u32, message: String },
    #[error("the {format} encoder failed: {message}")]
    Encode { format: Format, message: String },
}

impl AudioError {
    pub(crate) fn encode(format: Format, message: impl std::fmt::Display) -> Self {
        Self::Encode {
            format,
            message: message.to_string(),
        }
    }
}

/// Engine bytes in, client bytes out, for one response.
pub struct Pipeline {
    stage: Stage,
    sse: Option<sse::Framer>,
    /// 24 kHz samples handed to the encoder so far.
    samples_out: u64,
}

enum Stage {
    Encode(Box<Encoding>),
    Passthrough,
}

/// Decoder, resampler and encoder of one response, with their scratch buffers.
struct Encoding {
    decoder: Decoder,
    resampler: Option<Resampler>,
    encoder: Box<dyn Encoder>,
    decoded: Vec<f32>,
    resampled: Vec<f32>,
    pcm: Vec<i16>,
}

impl Pipeline {
    /// Decode `source`, resample to 24 kHz, encode as `format`; `sse` wraps the output in
    /// OpenAI's event stream.
    pub fn new(source: EngineAudio, format: Format, sse: bool) -> Result<Self, AudioError> {
        let decoder = Decoder::new(source)
            .ok_or_else(|| AudioError::Source("an encoded stream cannot be decoded".into()))?;
        Ok(Self {
            stage: Stage::Encode(Box::new(Encoding {
                decoder,
                resampler: None,
                encoder: encode::new(format, OUTPUT_RATE)?,
                decoded: Vec::new(),
                resampled: Vec::new(),
                pcm: Vec::new(),
            })),
            sse: sse.then(sse::Framer::default),
            samples_out: 0,
        })
    }

    /// The engine's bytes as they are (an engine that encodes by itself).
    pub fn passthrough(sse: bool) -> Self {
        Self {
            stage: Stage::Passthrough,
            sse: sse.then(sse::Framer::default),
            samples_out: 0,
        }
    }

    /// Feed the next piece of the engine's response; returns what is ready for the client
    /// (possibly nothing yet).
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<u8>, AudioError> {
        let mut out = Vec::new();
        match &mut self.stage {
            Stage::Passthrough => out.extend_from_slice(bytes),
            Stage::Encode(encoding) => {
                let Encoding {
                    decoder,
                    resampler,
                    encoder,
                    decoded,
                    resampled,
                    pcm,
                } = &mut **encoding;
                decoded.clear();
                decoder.push(bytes, decoded)?;
                if decoded.is_empty() {
                    return Ok(self.frame(out));
                }
                let rate = decoder.rate().ok_or_else(|| {
                    AudioError::Source("audio arrived before its sample rate".into())
                })?;
                let resampler = match resampler {
                    Some(r) if r.from() == rate => r,
                    Some(r) => {
                        return Err(AudioError::Source(format!(
                            "the sample rate changed mid-stream from {} to {rate} Hz",
                            r.from()
                        )));
                    }
                    None => resampler.insert(Resampler::new(rate, OUTPUT_RATE)?),
                };
                resampled.clear();
                resampler.push(decoded, resampled)?;
                to_i16(resampled, pcm);
                self.samples_out += pcm.len() as u64;
                encoder.push(pcm, &mut out)?;
            }
        }
        Ok(self.frame(out))
    }

    /// The engine's response ended: flush the codec (and close the event stream).
    pub fn finish(&mut self) -> Result<Vec<u8>, AudioError> {
        let mut out = Vec::new();
        if let Stage::Encode(encoding) = &mut self.stage {
            let Encoding {
                decoder,
                resampler,
                encoder,
                resampled,
                pcm,
                ..
            } = &mut **encoding;
            decoder.finish()?;
            resampled.clear();
            if let Some(resampler) = resampler {
                resampler.finish(resampled)?;
            }
            to_i16(resampled, pcm);
            self.samples_out += pcm.len() as u64;
            encoder.push(pcm, &mut out)?;
            encoder.finish(&mut out)?;
        }
        let mut out = self.frame(out);
        if let Some(sse) = &mut self.sse {
            out.extend_from_slice(&sse.done());
        }
        Ok(out)
    }

    /// Seconds of audio encoded so far (0 for a passed-through stream).
    pub fn seconds(&self) -> f64 {
        self.samples_out as f64 / f64::from(OUTPUT_RATE)
    }

    fn frame(&mut self, out: Vec<u8>) -> Vec<u8> {
        match &mut self.sse {
            Some(sse) if !out.is_empty() => sse.delta(&out),
            _ => out,
        }
    }
}

/// `f32` in [-1, 1] to s16, clipping what lies outside.
fn to_i16(samples: &[f32], out: &mut Vec<i16>) {
    out.clear();
    out.extend(
        samples
            .iter()
            .map(|&s| (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16),
    );
}
