//! The audio of a Wyoming session: what a client sends for transcription (any rate, width and
//! channels), and the text a streaming synthesis has gathered, cut at sentence ends.

use super::message::Declared;
use crate::audio::resample::Resampler;
use crate::transcription::decode::{self, DecodeError, Decoded};

/// Audio a client is sending for transcription, decoded as it arrives: each chunk's PCM (any
/// rate, width and channel count the client declares) mixed to mono and resampled to the
/// engine's 16 kHz at once, so the session holds the 16-bit samples the engine gets and
/// nothing else. What it may hold is capped in bytes received and in seconds, whatever format
/// the client declares.
pub(super) struct Utterance {
    rate: u32,
    width: u16,
    channels: u16,
    resampler: Resampler,
    /// A frame split across two chunks.
    carry: Vec<u8>,
    mono: Vec<f32>,
    scratch: Vec<f32>,
    samples: Vec<i16>,
    received: u64,
    max_bytes: u64,
    max_secs: u64,
}

/// Why an utterance is refused: (what to tell the client, its code).
pub(super) type Refusal = (String, &'static str);

impl Utterance {
    /// The utterance an `audio-start` (or a first `audio-chunk`) declares; `max_bytes` of
    /// audio at most, and `max_secs`.
    pub fn start(declared: Declared, max_bytes: u64, max_secs: u64) -> Result<Self, Refusal> {
        let (rate, width, channels) = declared.filled();
        let unsupported = |what: String| (what, "unsupported_audio");
        let rate = u32::try_from(rate).unwrap_or(0);
        let channels_usize = usize::try_from(channels).unwrap_or(0);
        decode::check_format(rate, channels_usize)
            .map_err(|why| unsupported(format!("the audio {why}")))?;
        if !(1..=4).contains(&width) {
            return Err(unsupported(format!(
                "the audio claims {width}-byte samples (Murmur reads 1 to 4)"
            )));
        }
        let resampler =
            Resampler::new(rate, decode::RATE).map_err(|e| unsupported(e.to_string()))?;
        Ok(Self {
            rate,
            width: width as u16,
            channels: channels as u16,
            resampler,
            carry: Vec::new(),
            mono: Vec::new(),
            scratch: Vec::new(),
            samples: Vec::new(),
            received: 0,
            max_bytes,
            max_secs,
        })
    }

    /// Whether `declared` is another format than this utterance's.
    pub fn differs(&self, declared: Declared) -> bool {
        let same = |field: Option<u64>, mine: u64| field.is_none_or(|v| v == mine);
        !(same(declared.rate, u64::from(self.rate))
            && same(declared.width, u64::from(self.width))
            && same(declared.channels, u64::from(self.channels)))
    }

    /// Decode one chunk's PCM.
    pub fn push(&mut self, payload: &[u8]) -> Result<(), Refusal> {
        self.received += payload.len() as u64;
        if self.received > self.max_bytes {
            return Err((
                format!(
                    "the audio is larger than {} MB (transcription.max_upload_mb)",
                    self.max_bytes / (1024 * 1024)
                ),
                "audio_too_long",
            ));
        }
        let frame = usize::from(self.width) * usize::from(self.channels);
        let mut bytes = std::mem::take(&mut self.carry);
        bytes.extend_from_slice(payload);
        let whole = bytes.len() - bytes.len() % frame;
        self.mono.clear();
        self.mono
            .extend(bytes[..whole].chunks_exact(frame).map(|f| {
                f.chunks_exact(usize::from(self.width))
                    .map(sample)
                    .sum::<f32>()
                    / f32::from(self.channels)
            }));
        self.carry = bytes[whole..].to_vec();
        self.resampler
            .push(&self.mono, &mut self.scratch)
            .map_err(|e| (e.to_string(), "unsupported_audio"))?;
        self.keep();
        let max_samples = self.max_secs.saturating_mul(u64::from(decode::RATE));
        if self.samples.len() as u64 > max_samples {
            return Err((
                format!(
                    "the audio is longer than {} s (transcription.max_audio_secs)",
                    self.max_secs
                ),
                "audio_too_long",
            ));
        }
        Ok(())
    }

    fn keep(&mut self) {
        decode::keep(&mut self.scratch, &mut self.samples);
    }

    /// The audio so far, as the engine gets it (the resampler may hold back a few ms).
    pub fn samples(&self) -> &[i16] {
        &self.samples
    }

    /// Bytes of audio received.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The audio as the engine gets it.
    pub fn finish(mut self) -> Result<Decoded, DecodeError> {
        self.resampler
            .finish(&mut self.scratch)
            .map_err(|e| DecodeError::Corrupt {
                format: "pcm",
                why: e.to_string(),
            })?;
        self.keep();
        let seconds = self.samples.len() as f64 / f64::from(decode::RATE);
        if self.samples.is_empty() {
            return Err(DecodeError::Empty);
        }
        if seconds < 0.1 {
            return Err(DecodeError::TooShort { seconds });
        }
        Ok(Decoded {
            samples: self.samples,
            format: "pcm",
            seconds,
        })
    }
}

/// One little-endian sample of 1 to 4 bytes as -1..1 (1-byte audio is unsigned, as in WAV).
fn sample(bytes: &[u8]) -> f32 {
    match *bytes {
        [b] => (f32::from(b) - 128.0) / 128.0,
        [a, b] => f32::from(i16::from_le_bytes([a, b])) / 32768.0,
        [a, b, c] => (i32::from_le_bytes([0, a, b, c]) >> 8) as f32 / 8_388_608.0,
        [a, b, c, d] => i32::from_le_bytes([a, b, c, d]) as f32 / 2_147_483_648.0,
        _ => 0.0,
    }
}

/// `text` split after its last finished sentence: (whole sentences, the rest). A sentence ends
/// at `.`, `!`, `?` or `…` followed by a space, or at CJK punctuation.
pub(super) fn split_sentences(text: &str) -> (String, String) {
    let mut end = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let next = chars.peek().map(|(_, n)| *n);
        let closes = match c {
            '。' | '！' | '？' => true,
            '.' | '!' | '?' | '…' => next.is_some_and(char::is_whitespace),
            _ => false,
        };
        if closes {
            end = at + c.len_utf8();
        }
    }
    (text[..end].to_string(), text[end..].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_sentences_are_split_from_the_rest() {
        assert_eq!(
            split_sentences("Hello there. How are"),
            ("Hello there.".into(), " How are".into())
        );
        assert_eq!(
            split_sentences("Pi is 3.14 or so"),
            (String::new(), "Pi is 3.14 or so".into())
        );
        assert_eq!(split_sentences("Done!"), (String::new(), "Done!".into()));
        assert_eq!(
            split_sentences("今日は。明日"),
            ("今日は。".into(), "明日".into())
        );
    }

    fn chunk(rate: u64, width: u64, channels: u64) -> Declared {
        Declared {
            rate: Some(rate),
            width: Some(width),
            channels: Some(channels),
        }
    }

    #[test]
    fn a_client_s_pcm_of_any_width_and_channels_becomes_16_khz_mono_of_its_length() {
        for (rate, width, channels) in [
            (22_050, 2, 2),
            (16_000, 1, 1),
            (48_000, 3, 1),
            (8_000, 4, 3),
        ] {
            let mut audio = Utterance::start(chunk(rate, width, channels), 1 << 30, 60)
                .expect("a format Murmur reads");
            let frame = (width * channels) as usize;
            // A second of a loud square wave, sent in pieces that split frames.
            let mut pcm = Vec::new();
            for i in 0..rate as usize {
                let high = (i / 40) % 2 == 0;
                for _ in 0..channels {
                    let value: i64 = if high { 1 } else { -1 };
                    let full = match width {
                        1 => vec![(128 + value * 100) as u8],
                        2 => (value as i16 * 20_000).to_le_bytes().to_vec(),
                        3 => (value as i32 * 5_000_000).to_le_bytes()[..3].to_vec(),
                        _ => (value as i32 * 1_500_000_000).to_le_bytes().to_vec(),
                    };
                    pcm.extend(full);
                }
            }
            assert_eq!(pcm.len(), rate as usize * frame);
            for piece in pcm.chunks(1001) {
                audio.push(piece).expect("within bounds");
            }
            let decoded = audio.finish().expect("decodes");
            assert!(
                (decoded.seconds - 1.0).abs() < 0.01,
                "{rate}/{width}/{channels}: {}",
                decoded.seconds
            );
            let peak = decoded
                .samples
                .iter()
                .map(|s| s.unsigned_abs())
                .max()
                .unwrap_or(0);
            assert!(
                peak > 15_000,
                "{rate}/{width}/{channels}: loud audio stays loud ({peak})"
            );
        }
    }

    #[test]
    fn formats_murmur_cannot_read_are_refused_before_anything_is_sized() {
        for (rate, width, channels) in [
            (100_000_007, 2, 1),
            (0, 2, 1),
            (16_000, 5, 1),
            (16_000, 2, 0),
            (16_000, 2, 1000),
        ] {
            let refused = Utterance::start(chunk(rate, width, channels), 1 << 30, 60).err();
            assert!(
                matches!(refused, Some((_, "unsupported_audio"))),
                "{rate}/{width}/{channels}: {refused:?}"
            );
        }
    }

    #[test]
    fn the_byte_cap_holds_whatever_format_is_declared() {
        // 384 kHz × 4 bytes × 8 channels would allow 132 GB by the declared format alone.
        let mut audio = Utterance::start(chunk(384_000, 4, 8), 1024 * 1024, 3 * 3600).expect("ok");
        let chunk = vec![0u8; 64 * 1024];
        let mut sent = 0;
        let refused = loop {
            if let Err(refused) = audio.push(&chunk) {
                break refused;
            }
            sent += chunk.len();
            assert!(sent <= 1024 * 1024, "the cap is a megabyte");
        };
        assert_eq!(refused.1, "audio_too_long");
    }
}
