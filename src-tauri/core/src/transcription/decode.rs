//! An upload, in whatever format a client sent, to the 16 kHz mono PCM the transcription
//! engine reads.
//!
//! The container is recognised from the bytes, never from the file name or the declared type
//! (Open WebUI declares every recording `application/octet-stream`). symphonia demuxes and
//! decodes WAV, MP3, FLAC, Ogg Vorbis, MP4/M4A and ADTS AAC; Opus (in Ogg, and in WebM from
//! browsers' MediaRecorder) is demuxed by symphonia and decoded by libopus, which Murmur links
//! for its encoder anyway. Channels are averaged to mono and the result resampled with the
//! same rubato resampler the speech path uses.
//!
//! Decoding stops as soon as the audio passes `max_secs`, so a small file that claims hours
//! (a FLAC of silence) costs neither the time nor the memory of those hours.

use std::io::Cursor;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CODEC_TYPE_NULL, CODEC_TYPE_OPUS, DecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use crate::audio::resample::Resampler;

/// The engine's input rate: Whisper's.
pub const RATE: u32 = 16_000;

/// Less audio than this holds no word (OpenAI refuses it too).
const MIN_SECS: f64 = 0.1;

/// What an upload held, as the engine will get it.
#[derive(Debug)]
pub struct Decoded {
    /// s16 mono at [`RATE`].
    pub samples: Vec<i16>,
    /// The container and codec recognised, for logs and the activity view ("webm/opus").
    pub format: &'static str,
    /// Seconds of audio.
    pub seconds: f64,
}

impl Decoded {
    /// The samples as little-endian bytes, the engine's body.
    pub fn pcm_bytes(&self) -> Vec<u8> {
        self.samples.iter().flat_map(|s| s.to_le_bytes()).collect()
    }
}

/// Why an upload cannot be transcribed. Each is the client's problem (a 4xx).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("the file is empty")]
    Empty,
    #[error(
        "the file is not audio Murmur can read ({what}); send WAV, MP3, FLAC, Ogg (Opus or Vorbis), WebM/Opus, MP4/M4A (AAC) or ADTS AAC"
    )]
    Unrecognised { what: String },
    #[error("the file looks like {format} but cannot be decoded: {why}")]
    Corrupt { format: &'static str, why: String },
    #[error("the file looks like {format} but holds no audio")]
    NoAudio { format: &'static str },
    #[error("the audio is longer than {max_secs} s (transcription.max_audio_secs)")]
    TooLong { max_secs: u64 },
    #[error("the audio is too short ({seconds:.3} s); the least is 0.1 s")]
    TooShort { seconds: f64 },
}

/// The containers recognised by their first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Wav,
    Mp3,
    Flac,
    Ogg,
    Matroska,
    Mp4,
    Adts,
}

impl Container {
    fn name(self) -> &'static str {
        match self {
            Self::Wav => "wav",
            Self::Mp3 => "mp3",
            Self::Flac => "flac",
            Self::Ogg => "ogg",
            Self::Matroska => "webm",
            Self::Mp4 => "mp4",
            Self::Adts => "aac",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Self::Matroska => "webm",
            Self::Mp4 => "m4a",
            other => other.name(),
        }
    }
}

/// What the first bytes say.
fn sniff(bytes: &[u8]) -> Result<Container, String> {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    if bytes.len() >= 12 && starts(b"RIFF") && &bytes[8..12] == b"WAVE" {
        return Ok(Container::Wav);
    }
    if starts(b"fLaC") {
        return Ok(Container::Flac);
    }
    if starts(b"OggS") {
        return Ok(Container::Ogg);
    }
    if starts(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return Ok(Container::Matroska);
    }
    if bytes.len() >= 8 && &bytes[4..8] == b"ftyp" {
        return Ok(Container::Mp4);
    }
    if starts(b"ID3") {
        return Ok(Container::Mp3);
    }
    if bytes.len() >= 4 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0 {
        let layer = (bytes[1] >> 1) & 0b11;
        if layer == 0 && bytes[1] & 0xF0 == 0xF0 {
            return Ok(Container::Adts);
        }
        let version = (bytes[1] >> 3) & 0b11;
        let bitrate = bytes[2] >> 4;
        let rate = (bytes[2] >> 2) & 0b11;
        if version != 0b01 && layer != 0 && bitrate != 0xF && rate != 0b11 {
            return Ok(Container::Mp3);
        }
    }
    Err(describe_unknown(bytes))
}

/// Words for bytes that are not audio, so the error says what was sent instead.
fn describe_unknown(bytes: &[u8]) -> String {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    let what = if starts(b"PK\x03\x04") {
        "a ZIP archive"
    } else if starts(b"%PDF") {
        "a PDF document"
    } else if starts(&[0x89, b'P', b'N', b'G']) {
        "a PNG image"
    } else if starts(&[0xFF, 0xD8, 0xFF]) {
        "a JPEG image"
    } else if starts(b"GIF8") {
        "a GIF image"
    } else if bytes.iter().take(512).all(|b| b.is_ascii() && *b != 0) {
        "text"
    } else {
        "unrecognised bytes"
    };
    what.to_string()
}

/// Decode `bytes` to 16 kHz mono, refusing audio longer than `max_secs`.
pub fn decode(bytes: &[u8], max_secs: u64) -> Result<Decoded, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    let container = sniff(bytes).map_err(|what| DecodeError::Unrecognised { what })?;
    let mut data = bytes.to_vec();
    if container == Container::Wav {
        settle_streamed_wav(&mut data);
    }
    let corrupt = |why: String| DecodeError::Corrupt {
        format: container.name(),
        why,
    };
    let source = MediaSourceStream::new(Box::new(Cursor::new(data)), Default::default());
    let mut hint = Hint::new();
    hint.with_extension(container.extension());
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            source,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|e| corrupt(e.to_string()))?;
    let mut reader = probed.format;
    let Some(track) = reader
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
    else {
        return Err(DecodeError::NoAudio {
            format: container.name(),
        });
    };
    let params = track.codec_params.clone();
    let track_id = track.id;
    let mut sink = Sink::new(max_secs);
    let format = if params.codec == CODEC_TYPE_OPUS {
        let channels = params.channels.map_or(1, |c| c.count()).clamp(1, 2);
        decode_opus(reader.as_mut(), track_id, channels, &mut sink).map_err(|e| match e {
            Stop::TooLong => DecodeError::TooLong { max_secs },
            Stop::Corrupt(why) => corrupt(why),
        })?;
        opus_name(container)
    } else {
        decode_symphonia(reader.as_mut(), track_id, &params, &mut sink).map_err(|e| match e {
            Stop::TooLong => DecodeError::TooLong { max_secs },
            Stop::Corrupt(why) => corrupt(why),
        })?;
        codec_name(container)
    };
    if sink.frames == 0 {
        return Err(DecodeError::NoAudio {
            format: container.name(),
        });
    }
    let samples = sink.finish().map_err(corrupt)?;
    let seconds = samples.len() as f64 / f64::from(RATE);
    if seconds < MIN_SECS {
        return Err(DecodeError::TooShort { seconds });
    }
    Ok(Decoded {
        samples,
        format,
        seconds,
    })
}

fn opus_name(container: Container) -> &'static str {
    match container {
        Container::Matroska => "webm/opus",
        _ => "ogg/opus",
    }
}

fn codec_name(container: Container) -> &'static str {
    match container {
        Container::Ogg => "ogg/vorbis",
        Container::Mp4 => "m4a/aac",
        other => other.name(),
    }
}

/// A WAV written while streaming carries `0xFFFFFFFF` (or 0) as its RIFF and data sizes
/// (Murmur's own, OpenAI's): the data is whatever follows, up to the end. Write the real
/// sizes so the reader takes all of it.
fn settle_streamed_wav(data: &mut [u8]) {
    let total = data.len();
    let riff = u32::try_from(total.saturating_sub(8)).unwrap_or(u32::MAX);
    data[4..8].copy_from_slice(&riff.to_le_bytes());
    let mut at = 12;
    while at + 8 <= total {
        let id = [data[at], data[at + 1], data[at + 2], data[at + 3]];
        let size = u32::from_le_bytes([data[at + 4], data[at + 5], data[at + 6], data[at + 7]]);
        if &id == b"data" {
            let left = u32::try_from(total - at - 8).unwrap_or(u32::MAX);
            if size == u32::MAX || size == 0 || size > left {
                data[at + 4..at + 8].copy_from_slice(&(left & !1).to_le_bytes());
            }
            return;
        }
        at += 8 + size as usize + (size as usize & 1);
    }
}

/// Why decoding stopped early.
enum Stop {
    TooLong,
    Corrupt(String),
}

/// Mono samples at their own rate, resampled to 16 kHz as they come, with the length checked.
struct Sink {
    max_secs: u64,
    resampler: Option<Resampler>,
    out: Vec<f32>,
    frames: u64,
    rate: u32,
    mono: Vec<f32>,
}

impl Sink {
    fn new(max_secs: u64) -> Self {
        Self {
            max_secs,
            resampler: None,
            out: Vec::new(),
            frames: 0,
            rate: 0,
            mono: Vec::new(),
        }
    }

    /// Interleaved samples of `channels` channels at `rate`.
    fn push(&mut self, interleaved: &[f32], channels: usize, rate: u32) -> Result<(), Stop> {
        if rate == 0 || channels == 0 {
            return Err(Stop::Corrupt("no sample rate or channel count".into()));
        }
        if self.resampler.is_none() {
            self.resampler =
                Some(Resampler::new(rate, RATE).map_err(|e| Stop::Corrupt(e.to_string()))?);
            self.rate = rate;
        } else if rate != self.rate {
            return Err(Stop::Corrupt(format!(
                "the sample rate changes from {} to {rate} Hz",
                self.rate
            )));
        }
        self.mono.clear();
        self.mono.extend(
            interleaved
                .chunks_exact(channels)
                .map(|frame| frame.iter().sum::<f32>() / channels as f32),
        );
        self.frames += self.mono.len() as u64;
        if self.frames > self.max_secs.saturating_mul(u64::from(rate)) {
            return Err(Stop::TooLong);
        }
        if let Some(resampler) = &mut self.resampler {
            resampler
                .push(&self.mono, &mut self.out)
                .map_err(|e| Stop::Corrupt(e.to_string()))?;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<i16>, String> {
        if let Some(resampler) = &mut self.resampler {
            resampler.finish(&mut self.out).map_err(|e| e.to_string())?;
        }
        Ok(self
            .out
            .iter()
            .map(|s| (s.clamp(-1.0, 1.0) * 32767.0).round() as i16)
            .collect())
    }
}

/// Whether a reader's error is the end of the stream (a file simply ends; a truncated one
/// too: what was whole is kept).
fn is_end(error: &SymphoniaError) -> bool {
    matches!(error, SymphoniaError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof)
        || matches!(error, SymphoniaError::ResetRequired)
}

/// The next packet of `track_id`; `None` at the end (a damaged end after some audio counts as
/// the end: what was whole is kept).
fn next_packet(
    reader: &mut dyn FormatReader,
    track_id: u32,
    sink: &Sink,
) -> Result<Option<symphonia::core::formats::Packet>, Stop> {
    loop {
        match reader.next_packet() {
            Ok(packet) if packet.track_id() == track_id => return Ok(Some(packet)),
            Ok(_) => {}
            Err(e) if is_end(&e) => return Ok(None),
            Err(e) if sink.frames > 0 => {
                tracing::debug!("upload ends in a damaged packet: {e}");
                return Ok(None);
            }
            Err(e) => return Err(Stop::Corrupt(e.to_string())),
        }
    }
}

/// Packets whose payload cannot be decoded are skipped, up to this many.
const BAD_PACKETS: usize = 64;

fn decode_symphonia(
    reader: &mut dyn FormatReader,
    track_id: u32,
    params: &symphonia::core::codecs::CodecParameters,
    sink: &mut Sink,
) -> Result<(), Stop> {
    let mut decoder = symphonia::default::get_codecs()
        .make(params, &DecoderOptions::default())
        .map_err(|e| Stop::Corrupt(e.to_string()))?;
    let mut buffer: Option<SampleBuffer<f32>> = None;
    let mut bad = 0;
    while let Some(packet) = next_packet(reader, track_id, sink)? {
        let decoded = match decoder.decode(&packet) {
            Ok(decoded) => decoded,
            Err(SymphoniaError::DecodeError(why)) => {
                bad += 1;
                if bad > BAD_PACKETS {
                    return Err(Stop::Corrupt(why.to_string()));
                }
                continue;
            }
            Err(e) if is_end(&e) => return Ok(()),
            Err(e) => return Err(Stop::Corrupt(e.to_string())),
        };
        let spec = *decoded.spec();
        let frames = decoded.capacity() as u64;
        let buffer = match &mut buffer {
            Some(buffer) if buffer.capacity() as u64 >= frames * spec.channels.count() as u64 => {
                buffer
            }
            slot => slot.insert(SampleBuffer::new(frames, spec)),
        };
        buffer.copy_interleaved_ref(decoded);
        sink.push(buffer.samples(), spec.channels.count(), spec.rate)?;
    }
    Ok(())
}

/// Opus always decodes at 48 kHz; the longest frame is 120 ms.
const OPUS_RATE: u32 = 48_000;
const OPUS_MAX_FRAME: usize = 5760;

fn decode_opus(
    reader: &mut dyn FormatReader,
    track_id: u32,
    channels: usize,
    sink: &mut Sink,
) -> Result<(), Stop> {
    let layout = if channels == 2 {
        opus::Channels::Stereo
    } else {
        opus::Channels::Mono
    };
    let mut decoder =
        opus::Decoder::new(OPUS_RATE, layout).map_err(|e| Stop::Corrupt(e.to_string()))?;
    let mut pcm = vec![0f32; OPUS_MAX_FRAME * channels];
    let mut bad = 0;
    while let Some(packet) = next_packet(reader, track_id, sink)? {
        if packet.data.is_empty() {
            continue;
        }
        match decoder.decode_float(&packet.data, &mut pcm, false) {
            Ok(frames) => sink.push(&pcm[..frames * channels], channels, OPUS_RATE)?,
            Err(e) => {
                bad += 1;
                if bad > BAD_PACKETS {
                    return Err(Stop::Corrupt(e.to_string()));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(rate: u32, channels: u16, samples: &[i16], streamed: bool) -> Vec<u8> {
        let data_len = (samples.len() * 2) as u32;
        let mut out = Vec::new();
        out.extend_from_slice(b"RIFF");
        out.extend_from_slice(&(if streamed { u32::MAX } else { 36 + data_len }).to_le_bytes());
        out.extend_from_slice(b"WAVEfmt ");
        out.extend_from_slice(&16u32.to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&channels.to_le_bytes());
        out.extend_from_slice(&rate.to_le_bytes());
        out.extend_from_slice(&(rate * u32::from(channels) * 2).to_le_bytes());
        out.extend_from_slice(&(channels * 2).to_le_bytes());
        out.extend_from_slice(&16u16.to_le_bytes());
        out.extend_from_slice(b"data");
        out.extend_from_slice(&(if streamed { u32::MAX } else { data_len }).to_le_bytes());
        for s in samples {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out
    }

    fn tone(rate: u32, secs: f64) -> Vec<i16> {
        (0..(f64::from(rate) * secs) as usize)
            .map(|i| {
                ((i as f64 * 440.0 * std::f64::consts::TAU / f64::from(rate)).sin() * 12_000.0)
                    as i16
            })
            .collect()
    }

    #[test]
    fn a_wav_at_any_rate_becomes_16_khz_of_the_same_length() {
        for rate in [8_000, 16_000, 22_050, 44_100, 48_000] {
            let decoded = decode(&wav(rate, 1, &tone(rate, 1.5), false), 60).expect("decodes");
            assert_eq!(decoded.format, "wav");
            assert!(
                (decoded.seconds - 1.5).abs() < 0.01,
                "{rate} Hz: {} s",
                decoded.seconds
            );
            let peak = decoded.samples.iter().map(|s| s.unsigned_abs()).max();
            assert!(
                peak > Some(10_000),
                "{rate} Hz: the tone survives: {peak:?}"
            );
        }
    }

    #[test]
    fn a_streamed_wav_is_read_to_its_end() {
        let decoded = decode(&wav(24_000, 1, &tone(24_000, 2.0), true), 60).expect("decodes");
        assert!((decoded.seconds - 2.0).abs() < 0.01, "{}", decoded.seconds);
    }

    #[test]
    fn stereo_is_averaged_to_mono() {
        // Left a tone, right its inverse: the mono mix is silence.
        let left = tone(16_000, 1.0);
        let interleaved: Vec<i16> = left.iter().flat_map(|s| [*s, -*s]).collect();
        let decoded = decode(&wav(16_000, 2, &interleaved, false), 60).expect("decodes");
        assert!((decoded.seconds - 1.0).abs() < 0.01);
        assert!(decoded.samples.iter().all(|s| s.unsigned_abs() <= 1));
    }

    #[test]
    fn audio_past_the_limit_is_refused() {
        let err = decode(&wav(8_000, 1, &vec![0; 8_000 * 3], false), 2).expect_err("too long");
        assert_eq!(err, DecodeError::TooLong { max_secs: 2 });
    }

    #[test]
    fn what_is_not_audio_is_named() {
        assert_eq!(decode(b"", 60).expect_err("empty"), DecodeError::Empty);
        let zip = decode(b"PK\x03\x04rest of an archive", 60).expect_err("zip");
        assert!(zip.to_string().contains("a ZIP archive"), "{zip}");
        let text = decode(b"hello, this is not audio", 60).expect_err("text");
        assert!(text.to_string().contains("(text)"), "{text}");
        let noise: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 1)
            .collect();
        assert!(matches!(
            decode(&noise, 60),
            Err(DecodeError::Unrecognised { .. })
        ));
    }

    #[test]
    fn a_wav_header_alone_has_no_audio() {
        let header = wav(16_000, 1, &[], false);
        assert!(matches!(
            decode(&header, 60),
            Err(DecodeError::NoAudio { .. }) | Err(DecodeError::Corrupt { .. })
        ));
    }
}
