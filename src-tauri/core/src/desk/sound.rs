//! The desk's sound, device-free: a microphone's frames (any rate, any channels) made into
//! the 16 kHz mono that transcription takes, the pre-roll that keeps the moment before the
//! shortcut, a level for the indicator, and speech's PCM made into what a speaker plays. The
//! desktop shell moves the samples between these and the devices.

use std::collections::VecDeque;

use crate::audio::AudioError;
use crate::audio::resample::Resampler;
use crate::transcription::decode::RATE;

/// A microphone's interleaved frames → 16 kHz mono.
pub struct ToListen {
    channels: usize,
    resampler: Resampler,
    mono: Vec<f32>,
    out: Vec<f32>,
}

impl ToListen {
    pub fn new(rate: u32, channels: u16) -> Result<Self, AudioError> {
        Ok(Self {
            channels: usize::from(channels.max(1)),
            resampler: Resampler::new(rate, RATE)?,
            mono: Vec::new(),
            out: Vec::new(),
        })
    }

    /// Interleaved samples in −1..1; answers the 16 kHz mono samples they became (the
    /// resampler holds a chunk back until it has one whole).
    pub fn push(&mut self, interleaved: &[f32]) -> Result<Vec<i16>, AudioError> {
        self.mono.clear();
        self.mono.extend(
            interleaved
                .chunks(self.channels)
                .map(|frame| frame.iter().sum::<f32>() / frame.len() as f32),
        );
        self.out.clear();
        self.resampler.push(&self.mono, &mut self.out)?;
        Ok(to_i16(&self.out))
    }
}

fn to_i16(samples: &[f32]) -> Vec<i16> {
    samples
        .iter()
        .map(|s| (s.clamp(-1.0, 1.0) * 32767.0).round() as i16)
        .collect()
}

/// The last few hundred milliseconds of the microphone, while nobody dictates.
#[derive(Debug)]
pub struct PreRoll {
    ring: VecDeque<i16>,
    keep: usize,
}

impl PreRoll {
    pub fn new(ms: u64) -> Self {
        let keep = usize::try_from(ms * u64::from(RATE) / 1000).unwrap_or(0);
        Self {
            ring: VecDeque::with_capacity(keep),
            keep,
        }
    }

    pub fn push(&mut self, samples: &[i16]) {
        if self.keep == 0 {
            return;
        }
        let samples = &samples[samples.len().saturating_sub(self.keep)..];
        let over = (self.ring.len() + samples.len()).saturating_sub(self.keep);
        self.ring.drain(..over);
        self.ring.extend(samples);
    }

    /// What was kept, oldest first; the ring starts again empty.
    pub fn take(&mut self) -> Vec<i16> {
        self.ring.drain(..).collect()
    }
}

/// How loud `samples` are, 0 (silence, −60 dBFS and below) to 1 (full scale), for a meter.
pub fn level(samples: &[i16]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    let power = samples
        .iter()
        .map(|&s| f64::from(s) * f64::from(s))
        .sum::<f64>()
        / samples.len() as f64;
    let dbfs = 10.0 * (power.max(1.0) / (32768.0 * 32768.0)).log10();
    ((dbfs + 60.0) / 60.0).clamp(0.0, 1.0) as f32
}

/// Speech's 16-bit little-endian mono PCM → a speaker's interleaved frames.
pub struct ToPlay {
    channels: usize,
    resampler: Resampler,
    /// An odd byte left from the last chunk.
    odd: Option<u8>,
    mono: Vec<f32>,
    out: Vec<f32>,
}

impl ToPlay {
    pub fn new(from_rate: u32, to_rate: u32, channels: u16) -> Result<Self, AudioError> {
        Ok(Self {
            channels: usize::from(channels.max(1)),
            resampler: Resampler::new(from_rate, to_rate)?,
            odd: None,
            mono: Vec::new(),
            out: Vec::new(),
        })
    }

    /// A chunk of the body, cut anywhere; the frames it became.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<f32>, AudioError> {
        self.mono.clear();
        let mut bytes = bytes;
        if let (Some(low), Some((&high, rest))) = (self.odd.take(), bytes.split_first()) {
            self.mono
                .push(f32::from(i16::from_le_bytes([low, high])) / 32768.0);
            bytes = rest;
        }
        let pairs = bytes.chunks_exact(2);
        self.odd = pairs.remainder().first().copied();
        self.mono
            .extend(pairs.map(|pair| f32::from(i16::from_le_bytes([pair[0], pair[1]])) / 32768.0));
        self.out.clear();
        self.resampler.push(&self.mono, &mut self.out)?;
        Ok(self.spread())
    }

    /// The end of the speech: what the resampler still holds.
    pub fn finish(&mut self) -> Result<Vec<f32>, AudioError> {
        self.out.clear();
        self.resampler.finish(&mut self.out)?;
        Ok(self.spread())
    }

    fn spread(&self) -> Vec<f32> {
        self.out
            .iter()
            .flat_map(|&s| std::iter::repeat_n(s, self.channels))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, hz: f32, secs: f32) -> Vec<f32> {
        (0..(rate as f32 * secs) as usize)
            .map(|n| 0.5 * (std::f32::consts::TAU * hz * n as f32 / rate as f32).sin())
            .collect()
    }

    #[test]
    fn a_stereo_48k_microphone_becomes_16k_mono_of_the_same_length_and_pitch() {
        let left = tone(48_000, 440.0, 1.0);
        let stereo: Vec<f32> = left.iter().flat_map(|&s| [s, s]).collect();
        let mut listen = ToListen::new(48_000, 2).expect("rates");
        let mut out = Vec::new();
        for chunk in stereo.chunks(960) {
            out.extend(listen.push(chunk).expect("push"));
        }
        // Within a resampler chunk of the whole second.
        assert!((15_000..=16_000).contains(&out.len()), "{}", out.len());
        // 440 Hz: 880 zero crossings a second.
        let crossings = out.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count() as f32
            / (out.len() as f32 / 16_000.0);
        assert!((860.0..=900.0).contains(&crossings), "{crossings}");
        assert!(level(&out) > 0.8, "{}", level(&out));
        assert_eq!(level(&[0; 160]), 0.0);
    }

    #[test]
    fn the_preroll_keeps_only_the_last_moments() {
        let mut preroll = PreRoll::new(500);
        for n in 0..100 {
            preroll.push(&[n; 160]);
        }
        let kept = preroll.take();
        assert_eq!(kept.len(), 8000);
        assert_eq!(kept.first(), Some(&50));
        assert_eq!(kept.last(), Some(&99));
        assert!(preroll.take().is_empty());
        let mut off = PreRoll::new(0);
        off.push(&[1; 160]);
        assert!(off.take().is_empty());
    }

    #[test]
    fn speech_cut_at_odd_bytes_plays_whole_at_the_speakers_rate() {
        let samples: Vec<i16> = (0..24_000).map(|n| (n % 200) as i16 * 100).collect();
        let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let mut play = ToPlay::new(24_000, 48_000, 2).expect("rates");
        let mut frames = Vec::new();
        for chunk in bytes.chunks(1001) {
            frames.extend(play.push(chunk).expect("push"));
        }
        frames.extend(play.finish().expect("finish"));
        assert_eq!(frames.len(), 48_000 * 2);
        assert!(frames.chunks(2).all(|f| f[0] == f[1]));
    }
}
