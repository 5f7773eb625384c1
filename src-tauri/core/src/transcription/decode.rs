//! An upload, in whatever format a client sent, to the 16 kHz mono PCM the transcription
//! engine reads.
//!
//! The container is recognised from the bytes ([`super::container`]). symphonia demuxes and
//! decodes WAV, MP3, FLAC, Ogg Vorbis, MP4/M4A and ADTS AAC; Opus (in Ogg, and in WebM from
//! browsers' MediaRecorder) is demuxed by symphonia and decoded by libopus, which Murmur links
//! for its encoder anyway. Channels are averaged to mono and the result resampled with the
//! same rubato resampler the speech path uses.
//!
//! Nothing is sized by what a file claims: a sample rate outside 1–384 kHz or more channels
//! than [`MAX_CHANNELS`] is refused before a decoder or resampler exists, and decoding stops
//! as soon as the audio passes `max_secs`, so a small file that claims hours costs neither
//! the time nor the memory of more than `max_secs`. The decoded audio exists once, as 16 kHz
//! 16-bit samples (about 115 MB an hour); [`Decoded::pieces`] cuts it at quiet moments for
//! the engine, which is sent one piece at a time. A decoder that panics on a malformed file
//! is a refusal of that file, never a crash nor a panic's words in an answer.

use std::io::Cursor;

use symphonia::core::codecs::{CODEC_TYPE_NULL, CODEC_TYPE_OPUS};
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::MediaSourceStream;

use bytes::Bytes;

use super::container::Container;
use crate::audio::resample::{MAX_RATE, MIN_RATE, Resampler};

/// The engine's input rate: Whisper's.
pub const RATE: u32 = 16_000;

/// Less audio than this holds no word (OpenAI refuses it too).
const MIN_SECS: f64 = 0.1;

/// The most channels an upload may have (7.1 is 8; Ambisonics of the third order, 16).
pub const MAX_CHANNELS: usize = 32;

/// The longest piece of audio the engine is sent at once: ten minutes.
pub const PIECE_SECS: usize = 600;

/// How far before a piece's end a quiet moment to cut at is looked for.
const CUT_SEARCH_SECS: usize = 30;

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
    pub fn pcm_bytes(&self, range: std::ops::Range<usize>) -> Vec<u8> {
        self.samples[range]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect()
    }

    /// The audio in pieces of at most [`PIECE_SECS`], each ending at the quietest moment of
    /// its last [`CUT_SEARCH_SECS`] (so no word is cut in two where a pause was near).
    pub fn pieces(&self) -> Vec<std::ops::Range<usize>> {
        let rate = RATE as usize;
        pieces(&self.samples, PIECE_SECS * rate, CUT_SEARCH_SECS * rate)
    }
}

/// `samples` cut into ranges of at most `longest`, each cut at the quietest 100 ms of the
/// `search` samples before the longest cut.
pub fn pieces(samples: &[i16], longest: usize, search: usize) -> Vec<std::ops::Range<usize>> {
    const WINDOW: usize = RATE as usize / 10;
    let longest = longest.max(2 * WINDOW);
    let search = search.clamp(WINDOW, longest / 2);
    let mut out = Vec::new();
    let mut start = 0;
    while samples.len() - start > longest {
        let end = start + longest;
        let energy = |at: usize| -> u64 {
            samples[at..at + WINDOW]
                .iter()
                .map(|s| u64::from(s.unsigned_abs()))
                .sum()
        };
        let quietest = (end - search..=end - WINDOW)
            .step_by(WINDOW / 2)
            .min_by_key(|at| energy(*at))
            .unwrap_or(end - WINDOW);
        let cut = quietest + WINDOW / 2;
        out.push(start..cut);
        start = cut;
    }
    out.push(start..samples.len());
    out
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
    #[error("the file's {format} audio {what}, which Murmur does not read")]
    Unsupported { format: &'static str, what: String },
}

/// A stream format Murmur does not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadFormat {
    #[error("claims a sample rate of {0} Hz (Murmur reads {MIN_RATE}–{MAX_RATE} Hz)")]
    Rate(u32),
    #[error("claims {0} channels (Murmur reads 1 to {MAX_CHANNELS})")]
    Channels(usize),
}

/// Why a stream's format is refused before anything is sized by it: rates outside
/// 1–384 kHz, no channels or more than [`MAX_CHANNELS`].
pub fn check_format(rate: u32, channels: usize) -> Result<(), BadFormat> {
    if !(MIN_RATE..=MAX_RATE).contains(&rate) {
        return Err(BadFormat::Rate(rate));
    }
    if channels == 0 || channels > MAX_CHANNELS {
        return Err(BadFormat::Channels(channels));
    }
    Ok(())
}

/// Decode `bytes` to 16 kHz mono, refusing audio longer than `max_secs`. Blocking: CPU work
/// for up to a second per minute of audio; run it off the async workers.
pub fn decode(bytes: Bytes, max_secs: u64) -> Result<Decoded, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    let container = Container::sniff(&bytes).map_err(|what| DecodeError::Unrecognised {
        what: what.to_string(),
    })?;
    // The demuxers and decoders are third-party code reading hostile bytes: one that panics
    // (symphonia does on a WAV whose rate is 0) refuses that file and nothing else.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        decode_container(container, bytes, max_secs)
    }))
    .unwrap_or_else(|_| {
        tracing::warn!("the {} decoder panicked on an upload", container.name());
        Err(DecodeError::Corrupt {
            format: container.name(),
            why: "its headers are inconsistent".into(),
        })
    })
}

fn decode_container(
    container: Container,
    bytes: Bytes,
    max_secs: u64,
) -> Result<Decoded, DecodeError> {
    if let Some((rate, channels)) = container.declared_format(&bytes) {
        check_format(rate, channels).map_err(|what| DecodeError::Unsupported {
            format: container.name(),
            what: what.to_string(),
        })?;
    }
    let corrupt = |why: String| DecodeError::Corrupt {
        format: container.name(),
        why,
    };
    let stopped = |stop: Stop| match stop {
        Stop::TooLong => DecodeError::TooLong { max_secs },
        Stop::Corrupt(why) => corrupt(why),
        Stop::Unsupported(what) => DecodeError::Unsupported {
            format: container.name(),
            what,
        },
    };
    let data = container
        .readable(bytes)
        .map_err(|e| corrupt(e.to_string()))?;
    let source = MediaSourceStream::new(Box::new(Cursor::new(data)), Default::default());
    let mut reader = demuxer(container, source).map_err(|e| corrupt(e.to_string()))?;
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
    let unsupported = |what: String| DecodeError::Unsupported {
        format: container.name(),
        what,
    };
    if let Some(rate) = params.sample_rate {
        let channels = params.channels.map_or(1, |c| c.count());
        check_format(rate, channels).map_err(|e| unsupported(e.to_string()))?;
    }
    let mut sink = Sink::new(max_secs, params.n_frames.zip(params.sample_rate));
    let format = if params.codec == CODEC_TYPE_OPUS {
        let channels = params.channels.map_or(1, |c| c.count()).clamp(1, 2);
        packets::decode_opus(reader.as_mut(), track_id, channels, &mut sink).map_err(stopped)?;
        container.opus_name()
    } else {
        packets::decode_symphonia(reader.as_mut(), track_id, &params, &mut sink)
            .map_err(stopped)?;
        container.codec_name()
    };
    if sink.frames == 0 {
        return Err(DecodeError::NoAudio {
            format: container.name(),
        });
    }
    let samples = sink.finish().map_err(|e| corrupt(e.to_string()))?;
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

/// The demuxer of the container the bytes were recognised as — only that one. (symphonia's
/// probe would search the whole upload for any format's marker: a "fLaC" met inside an MP3
/// would be read as a FLAC, metadata and all.)
fn demuxer(
    container: Container,
    source: MediaSourceStream,
) -> symphonia::core::errors::Result<Box<dyn FormatReader>> {
    use symphonia::default::formats::{
        AdtsReader, FlacReader, IsoMp4Reader, MkvReader, MpaReader, OggReader, WavReader,
    };
    let options = FormatOptions::default();
    Ok(match container {
        Container::Wav => Box::new(WavReader::try_new(source, &options)?),
        Container::Mp3 => Box::new(MpaReader::try_new(source, &options)?),
        Container::Flac => Box::new(FlacReader::try_new(source, &options)?),
        Container::Ogg => Box::new(OggReader::try_new(source, &options)?),
        Container::Matroska => Box::new(MkvReader::try_new(source, &options)?),
        Container::Mp4 => Box::new(IsoMp4Reader::try_new(source, &options)?),
        Container::Adts => Box::new(AdtsReader::try_new(source, &options)?),
    })
}

/// Why decoding stopped early.
enum Stop {
    TooLong,
    Corrupt(String),
    Unsupported(String),
}

/// Mono samples at their own rate, resampled to 16 kHz 16-bit as they come, with the length
/// checked: the only copy of the audio Murmur keeps.
struct Sink {
    max_secs: u64,
    resampler: Option<Resampler>,
    /// One packet's worth of resampled audio, before it becomes samples.
    scratch: Vec<f32>,
    out: Vec<i16>,
    frames: u64,
    rate: u32,
    mono: Vec<f32>,
}

impl Sink {
    /// `length`: the frames and rate the container states, if it does; room for that much
    /// (up to `max_secs`) is asked for once.
    fn new(max_secs: u64, length: Option<(u64, u32)>) -> Self {
        let expected = length
            .filter(|(_, rate)| *rate > 0)
            .map_or(0, |(frames, rate)| {
                let secs = (frames / u64::from(rate)).min(max_secs) + 1;
                secs * u64::from(RATE)
            });
        Self {
            max_secs,
            resampler: None,
            scratch: Vec::new(),
            out: Vec::with_capacity(usize::try_from(expected).unwrap_or(0)),
            frames: 0,
            rate: 0,
            mono: Vec::new(),
        }
    }

    /// Interleaved samples of `channels` channels at `rate`.
    fn push(&mut self, interleaved: &[f32], channels: usize, rate: u32) -> Result<(), Stop> {
        check_format(rate, channels).map_err(|e| Stop::Unsupported(e.to_string()))?;
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
                .push(&self.mono, &mut self.scratch)
                .map_err(|e| Stop::Corrupt(e.to_string()))?;
        }
        self.keep_scratch();
        Ok(())
    }

    fn keep_scratch(&mut self) {
        keep(&mut self.scratch, &mut self.out);
    }

    fn finish(mut self) -> Result<Vec<i16>, crate::audio::AudioError> {
        if let Some(resampler) = &mut self.resampler {
            resampler.finish(&mut self.scratch)?;
        }
        self.keep_scratch();
        Ok(self.out)
    }
}

/// Move resampled `scratch` into `out` as 16-bit samples.
pub fn keep(scratch: &mut Vec<f32>, out: &mut Vec<i16>) {
    out.extend(
        scratch
            .iter()
            .map(|s| (s.clamp(-1.0, 1.0) * 32767.0).round() as i16),
    );
    scratch.clear();
}

mod packets;

#[cfg(test)]
mod tests;
