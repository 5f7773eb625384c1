//! Reading an engine's audio: s16le PCM, or WAV (one file or several back to back, as
//! engines that encode each segment separately send them), into mono `f32` samples.
//!
//! Bytes arrive in whatever pieces the network makes; a header, a chunk id or a sample may be
//! split across two of them, so whatever cannot be used yet waits in `pending`.

use super::{AudioError, EngineAudio};

/// Engine bytes in, mono samples out.
pub struct Decoder {
    state: State,
    pending: Vec<u8>,
    layout: Option<Layout>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    rate: u32,
    channels: u16,
    encoding: Encoding,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Int { bytes: u16 },
    Float32,
}

impl Layout {
    fn frame_bytes(&self) -> usize {
        let sample = match self.encoding {
            Encoding::Int { bytes } => usize::from(bytes),
            Encoding::Float32 => 4,
        };
        sample * usize::from(self.channels)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Raw PCM, to the end.
    Pcm,
    /// Expecting `RIFF....WAVE` (the start of a WAV file).
    RiffHeader,
    /// Expecting a chunk header inside a WAV file.
    ChunkHeader,
    /// Skipping the rest of a chunk that is not audio.
    Skip(u64),
    /// In the `data` chunk: `None` when its length is unknown (a streamed WAV).
    Data(Option<u64>),
}

const UNKNOWN_LENGTH: [u32; 2] = [0, u32::MAX];

impl Decoder {
    /// `None` for [`EngineAudio::Encoded`]: there is nothing to decode.
    pub fn new(audio: EngineAudio) -> Option<Self> {
        let (state, layout) = match audio {
            EngineAudio::Pcm { rate } => (
                State::Pcm,
                Some(Layout {
                    rate,
                    channels: 1,
                    encoding: Encoding::Int { bytes: 2 },
                }),
            ),
            EngineAudio::Wav => (State::RiffHeader, None),
            EngineAudio::Encoded => return None,
        };
        Some(Self {
            state,
            pending: Vec::new(),
            layout,
        })
    }

    /// The sample rate, once known.
    pub fn rate(&self) -> Option<u32> {
        self.layout.map(|l| l.rate)
    }

    /// Decode what `bytes` completes; samples are appended to `out`.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<f32>) -> Result<(), AudioError> {
        let mut pending = std::mem::take(&mut self.pending);
        pending.extend_from_slice(bytes);
        let mut at = 0;
        let result = loop {
            let rest = &pending[at..];
            let used = match self.state {
                State::Pcm | State::Data(None) => self.samples(rest, out)?,
                State::Data(Some(0)) => {
                    self.state = State::ChunkHeader;
                    continue;
                }
                State::Data(Some(left)) => {
                    let take = rest.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    let used = self.samples(&rest[..take], out)?;
                    if used == 0 && take as u64 == left {
                        // Less than a frame left in the chunk: nothing to play.
                        self.state = State::Skip(left);
                        continue;
                    }
                    self.state = State::Data(Some(left - used as u64));
                    used
                }
                State::Skip(0) => {
                    self.state = State::ChunkHeader;
                    continue;
                }
                State::Skip(left) => {
                    let take = rest.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    self.state = if take as u64 == left {
                        State::ChunkHeader
                    } else {
                        State::Skip(left - take as u64)
                    };
                    take
                }
                State::RiffHeader => match self.riff_header(rest) {
                    Ok(used) => used,
                    Err(e) => break Err(e),
                },
                State::ChunkHeader => match self.chunk_header(rest) {
                    Ok(used) => used,
                    Err(e) => break Err(e),
                },
            };
            if used == 0 {
                break Ok(());
            }
            at += used;
        };
        pending.drain(..at);
        self.pending = pending;
        result
    }

    /// The stream ended: anything left over is an error only if it is a broken header.
    pub fn finish(&mut self) -> Result<(), AudioError> {
        if self.state == State::RiffHeader && self.layout.is_none() {
            return Err(AudioError::Source(
                "the engine sent no WAV header before its stream ended".into(),
            ));
        }
        // A trailing half sample (a stream cut at an odd byte) carries no sound.
        self.pending.clear();
        Ok(())
    }

    fn riff_header(&mut self, rest: &[u8]) -> Result<usize, AudioError> {
        if rest.len() < 12 {
            return Ok(0);
        }
        if &rest[..4] != b"RIFF" || &rest[8..12] != b"WAVE" {
            return Err(AudioError::Source(
                "expected a WAV file (RIFF/WAVE header)".into(),
            ));
        }
        self.state = State::ChunkHeader;
        Ok(12)
    }

    fn chunk_header(&mut self, rest: &[u8]) -> Result<usize, AudioError> {
        // After a file's last chunk, the next file of a multi-file stream may begin.
        if rest.len() >= 4 && &rest[..4] == b"RIFF" {
            self.state = State::RiffHeader;
            return self.riff_header(rest);
        }
        if rest.len() < 8 {
            return Ok(0);
        }
        let id: [u8; 4] = [rest[0], rest[1], rest[2], rest[3]];
        let size = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        match &id {
            b"fmt " => {
                let size = size as usize;
                if rest.len() < 8 + size {
                    return Ok(0);
                }
                self.layout = Some(parse_fmt(&rest[8..8 + size], self.layout)?);
                self.state = State::Skip(size as u64 % 2);
                Ok(8 + size)
            }
            b"data" => {
                if self.layout.is_none() {
                    return Err(AudioError::Source(
                        "a WAV data chunk before its format".into(),
                    ));
                }
                self.state = if UNKNOWN_LENGTH.contains(&size) {
                    State::Data(None)
                } else {
                    State::Data(Some(u64::from(size)))
                };
                Ok(8)
            }
            _ => {
                self.state = State::Skip(u64::from(size) + u64::from(size % 2));
                Ok(8)
            }
        }
    }

    /// Convert whole frames of `bytes`; returns how many bytes were used.
    fn samples(&self, bytes: &[u8], out: &mut Vec<f32>) -> Result<usize, AudioError> {
        let layout = self
            .layout
            .ok_or_else(|| AudioError::Source("audio before its format".into()))?;
        let frame = layout.frame_bytes();
        let frames = bytes.len() / frame;
        let channels = usize::from(layout.channels);
        out.reserve(frames);
        for frame_bytes in bytes[..frames * frame].chunks_exact(frame) {
            let sum: f32 = frame_bytes
                .chunks_exact(frame / channels)
                .map(|s| sample(s, layout.encoding))
                .sum();
            out.push(sum / channels as f32);
        }
        Ok(frames * frame)
    }
}

fn sample(bytes: &[u8], encoding: Encoding) -> f32 {
    match (encoding, bytes) {
        (Encoding::Int { bytes: 1 }, [b]) => (f32::from(*b) - 128.0) / 128.0,
        (Encoding::Int { bytes: 2 }, [a, b]) => f32::from(i16::from_le_bytes([*a, *b])) / 32768.0,
        (Encoding::Int { bytes: 3 }, [a, b, c]) => {
            (i32::from_le_bytes([0, *a, *b, *c]) >> 8) as f32 / 8_388_608.0
        }
        (Encoding::Int { bytes: 4 }, [a, b, c, d]) => {
            i32::from_le_bytes([*a, *b, *c, *d]) as f32 / 2_147_483_648.0
        }
        (Encoding::Float32, [a, b, c, d]) => f32::from_le_bytes([*a, *b, *c, *d]),
        _ => 0.0,
    }
}

const PCM: u16 = 1;
const FLOAT: u16 = 3;
const EXTENSIBLE: u16 = 0xFFFE;

fn parse_fmt(fmt: &[u8], previous: Option<Layout>) -> Result<Layout, AudioError> {
    if fmt.len() < 16 {
        return Err(AudioError::Source(
            "a WAV fmt chunk shorter than 16 bytes".into(),
        ));
    }
    let u16_at = |i: usize| u16::from_le_bytes([fmt[i], fmt[i + 1]]);
    let mut tag = u16_at(0);
    if tag == EXTENSIBLE && fmt.len() >= 26 {
        tag = u16_at(24);
    }
    let channels = u16_at(2);
    let rate = u32::from_le_bytes([fmt[4], fmt[5], fmt[6], fmt[7]]);
    let bits = u16_at(14);
    let encoding = match (tag, bits) {
        (PCM, 8 | 16 | 24 | 32) => Encoding::Int { bytes: bits / 8 },
        (FLOAT, 32) => Encoding::Float32,
        _ => {
            return Err(AudioError::Source(format!(
                "WAV format {tag} with {bits}-bit samples is not supported (PCM or 32-bit float are)"
            )));
        }
    };
    if channels == 0 || rate == 0 {
        return Err(AudioError::Source(
            "a WAV file with no channels or no rate".into(),
        ));
    }
    let layout = Layout {
        rate,
        channels,
        encoding,
    };
    if let Some(previous) = previous
        && previous.rate != rate
    {
        return Err(AudioError::Source(format!(
            "the sample rate changed mid-stream from {} to {rate} Hz",
            previous.rate
        )));
    }
    Ok(layout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(rate: u32, channels: u16, samples: &[i16], data_len: Option<u32>) -> Vec<u8> {
        let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let len = data_len.unwrap_or(data.len() as u32);
        let mut out = b"RIFF".to_vec();
        out.extend(36u32.wrapping_add(len).to_le_bytes());
        out.extend(b"WAVEfmt ");
        out.extend(16u32.to_le_bytes());
        out.extend(PCM.to_le_bytes());
        out.extend(channels.to_le_bytes());
        out.extend(rate.to_le_bytes());
        out.extend((rate * 2 * u32::from(channels)).to_le_bytes());
        out.extend((2 * channels).to_le_bytes());
        out.extend(16u16.to_le_bytes());
        out.extend(b"LIST");
        out.extend(4u32.to_le_bytes());
        out.extend(b"INFO");
        out.extend(b"data");
        out.extend(len.to_le_bytes());
        out.extend(data);
        out
    }

    /// Feed `bytes` in pieces of `size`.
    fn decode(audio: EngineAudio, bytes: &[u8], size: usize) -> (Vec<f32>, Option<u32>) {
        let mut decoder = Decoder::new(audio).expect("decodable");
        let mut out = Vec::new();
        for piece in bytes.chunks(size) {
            decoder.push(piece, &mut out).expect("valid audio");
        }
        decoder.finish().expect("complete");
        (out, decoder.rate())
    }

    #[test]
    fn pcm_split_anywhere_gives_the_same_samples() {
        let samples: Vec<i16> = (0..1000).map(|i| (i * 31 % 2000 - 1000) as i16).collect();
        let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let expected: Vec<f32> = samples.iter().map(|&s| f32::from(s) / 32768.0).collect();
        for size in [1, 3, 7, 1000, 4096] {
            let (out, rate) = decode(EngineAudio::Pcm { rate: 22050 }, &bytes, size);
            assert_eq!(out, expected, "pieces of {size}");
            assert_eq!(rate, Some(22050));
        }
    }

    #[test]
    fn wav_headers_are_read_and_extra_chunks_skipped() {
        let samples = [1000i16, -1000, 16384, -16384];
        let file = wav(16000, 1, &samples, None);
        for size in [1, 5, 13, 64] {
            let (out, rate) = decode(EngineAudio::Wav, &file, size);
            assert_eq!(out, [1000.0 / 32768.0, -1000.0 / 32768.0, 0.5, -0.5]);
            assert_eq!(rate, Some(16000));
        }
    }

    #[test]
    fn several_wav_files_back_to_back_and_streamed_lengths() {
        let mut stream = wav(24000, 1, &[100, 200], None);
        stream.extend(wav(24000, 1, &[300], None));
        let (out, _) = decode(EngineAudio::Wav, &stream, 3);
        assert_eq!(out.len(), 3);
        // A streamed WAV: length unknown, samples to the end.
        let streamed = wav(24000, 1, &[1, 2, 3, 4, 5], Some(u32::MAX));
        assert_eq!(decode(EngineAudio::Wav, &streamed, 2).0.len(), 5);
    }

    #[test]
    fn stereo_is_mixed_to_mono() {
        let file = wav(8000, 2, &[16384, 0, -16384, -16384], None);
        assert_eq!(decode(EngineAudio::Wav, &file, 100).0, [0.25, -0.5]);
    }

    #[test]
    fn what_is_not_wav_is_refused() {
        let mut decoder = Decoder::new(EngineAudio::Wav).expect("decodable");
        let err = decoder
            .push(b"ID3\x04 not a wav file at all", &mut Vec::new())
            .expect_err("not WAV");
        assert!(err.to_string().contains("RIFF"), "{err}");
        let mut empty = Decoder::new(EngineAudio::Wav).expect("decodable");
        assert!(empty.finish().is_err());
        let rates = [wav(24000, 1, &[1], None), wav(16000, 1, &[1], None)].concat();
        let mut decoder = Decoder::new(EngineAudio::Wav).expect("decodable");
        assert!(decoder.push(&rates, &mut Vec::new()).is_err());
    }
}
