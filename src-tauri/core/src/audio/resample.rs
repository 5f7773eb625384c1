//! Streaming sample-rate conversion with rubato: its FFT resampler for the rates audio is
//! made at, its sinc interpolator for any other.
//!
//! The FFT resampler's size follows the rates' ratio in lowest terms (44.1 → 16 kHz is
//! 441:160), so a rate with no common factor (a header claiming 100,000,007 Hz) would size it
//! by the rate itself — gigabytes. Past [`MAX_FFT_RATIO`] the sinc interpolator takes over:
//! its memory is fixed whatever the rates.
//!
//! One resampler lives for a whole response, so its filter state carries across the engine's
//! chunks (sentences join without a click). Input is collected until a full chunk is there;
//! the resampler's start-up delay is cut from the front, and [`Resampler::finish`] flushes
//! the tail so the output is exactly `input × ratio` long.

use audioadapter_buffers::direct::InterleavedSlice;
use rubato::{
    Async, Fft, FixedAsync, FixedSync, Indexing, SincInterpolationParameters,
    SincInterpolationType, WindowFunction,
};

use super::AudioError;

/// Input frames per FFT chunk: ~46 ms at 22.05 kHz, small enough not to delay first audio.
const CHUNK: usize = 1024;

/// The largest input side of the rates' ratio in lowest terms the FFT resampler is used for
/// (441 for 44.1 and 22.05 kHz); beyond it, the sinc interpolator.
const MAX_FFT_RATIO: u32 = 4096;

/// The lowest and highest rates Murmur resamples from: telephone audio to studio masters.
pub const MIN_RATE: u32 = 1_000;
pub const MAX_RATE: u32 = 384_000;

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The two ways rubato converts: one memory-sized by the ratio, one fixed. (The mutex is never
/// locked — it is reached through `&mut` — it only makes the sinc interpolator `Sync`.)
type Converter = std::sync::Mutex<Box<dyn rubato::Resampler<f32> + Send>>;

pub struct Resampler {
    from: u32,
    to: u32,
    /// `None` when the rates are equal: samples pass through.
    fft: Option<Converter>,
    input: Vec<f32>,
    chunk_out: Vec<f32>,
    /// Output frames still to drop (the resampler's delay).
    delay_left: usize,
    frames_in: u64,
    frames_out: u64,
}

impl Resampler {
    /// A resampler from `from` to `to` Hz; both must lie in [`MIN_RATE`]..=[`MAX_RATE`].
    pub fn new(from: u32, to: u32) -> Result<Self, AudioError> {
        let error = |message: String| AudioError::Resample { from, message };
        if !(MIN_RATE..=MAX_RATE).contains(&from) || !(MIN_RATE..=MAX_RATE).contains(&to) {
            return Err(error(format!(
                "{from} Hz to {to} Hz: rates must lie between {MIN_RATE} and {MAX_RATE} Hz"
            )));
        }
        let fft: Option<Converter> = if from == to {
            None
        } else if from / gcd(from, to) <= MAX_FFT_RATIO && to / gcd(from, to) <= MAX_FFT_RATIO {
            let fft = Fft::<f32>::new(from as usize, to as usize, CHUNK, 1, FixedSync::Input)
                .map_err(|e| error(e.to_string()))?;
            Some(std::sync::Mutex::new(Box::new(fft)))
        } else {
            let parameters = SincInterpolationParameters {
                sinc_len: 128,
                f_cutoff: None,
                oversampling_factor: 128,
                interpolation: SincInterpolationType::Linear,
                window: WindowFunction::BlackmanHarris2,
            };
            let ratio = f64::from(to) / f64::from(from);
            let sinc = Async::<f32>::new_sinc(ratio, 1.0, &parameters, CHUNK, 1, FixedAsync::Input)
                .map_err(|e| error(e.to_string()))?;
            Some(std::sync::Mutex::new(Box::new(sinc)))
        };
        let mut fft = fft;
        let converter = fft.as_mut().and_then(|f| f.get_mut().ok());
        let delay_left = converter.as_ref().map_or(0, |f| f.output_delay());
        let chunk_out = vec![0.0; converter.map_or(0, |f| f.output_frames_max())];
        Ok(Self {
            from,
            to,
            fft,
            input: Vec::new(),
            chunk_out,
            delay_left,
            frames_in: 0,
            frames_out: 0,
        })
    }

    /// The input rate.
    pub fn from(&self) -> u32 {
        self.from
    }

    /// Resample what `samples` completes; output is appended to `out`.
    pub fn push(&mut self, samples: &[f32], out: &mut Vec<f32>) -> Result<(), AudioError> {
        self.frames_in += samples.len() as u64;
        if self.fft.is_none() {
            out.extend_from_slice(samples);
            self.frames_out += samples.len() as u64;
            return Ok(());
        }
        self.input.extend_from_slice(samples);
        let mut at = 0;
        while self.input.len() - at >= CHUNK {
            self.process(at, CHUNK, out)?;
            at += CHUNK;
        }
        self.input.drain(..at);
        Ok(())
    }

    /// The input ended: flush what the filter holds, so that the output has exactly the
    /// input's duration.
    pub fn finish(&mut self, out: &mut Vec<f32>) -> Result<(), AudioError> {
        if self.fft.is_none() {
            return Ok(());
        }
        let expected =
            (self.frames_in as f64 * f64::from(self.to) / f64::from(self.from)).round() as u64;
        // The rest of the input, then silence, until the delayed tail is out.
        let mut rounds = 0;
        while self.frames_out < expected && rounds < 64 {
            let real = self.input.len().min(CHUNK);
            self.input.resize(CHUNK, 0.0);
            self.process(0, real, out)?;
            self.input.clear();
            rounds += 1;
        }
        let extra = self.frames_out.saturating_sub(expected) as usize;
        out.truncate(out.len().saturating_sub(extra));
        self.frames_out -= extra as u64;
        Ok(())
    }

    fn process(&mut self, at: usize, real: usize, out: &mut Vec<f32>) -> Result<(), AudioError> {
        let (from, Some(Ok(fft))) = (self.from, self.fft.as_mut().map(|f| f.get_mut())) else {
            return Ok(());
        };
        let error = |e: &dyn std::fmt::Display| AudioError::Resample {
            from,
            message: e.to_string(),
        };
        let input =
            InterleavedSlice::new(&self.input[at..at + CHUNK], 1, CHUNK).map_err(|e| error(&e))?;
        let frames = self.chunk_out.len();
        let mut output =
            InterleavedSlice::new_mut(&mut self.chunk_out, 1, frames).map_err(|e| error(&e))?;
        let indexing = Indexing {
            input_offset: 0,
            output_offset: 0,
            partial_len: (real < CHUNK).then_some(real),
            active_channels_mask: None,
        };
        let (_, written) = fft
            .process_into_buffer(&input, &mut output, Some(&indexing))
            .map_err(|e| error(&e))?;
        let skip = self.delay_left.min(written);
        self.delay_left -= skip;
        out.extend_from_slice(&self.chunk_out[skip..written]);
        self.frames_out += (written - skip) as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, hz: f32, frames: usize) -> Vec<f32> {
        (0..frames)
            .map(|i| 0.5 * (2.0 * std::f32::consts::PI * hz * i as f32 / rate as f32).sin())
            .collect()
    }

    #[test]
    fn output_has_the_input_duration_whatever_the_chunking() {
        let input = sine(22050, 440.0, 22050 * 2 + 123);
        for piece in [100, 1024, 5000, input.len()] {
            let mut resampler = Resampler::new(22050, 24000).expect("resampler");
            let mut out = Vec::new();
            for chunk in input.chunks(piece) {
                resampler.push(chunk, &mut out).expect("push");
            }
            resampler.finish(&mut out).expect("finish");
            let expected = (input.len() as f64 * 24000.0 / 22050.0).round() as usize;
            assert_eq!(out.len(), expected, "pieces of {piece}");
        }
    }

    #[test]
    fn a_tone_keeps_its_pitch_and_level_and_chunks_join_smoothly() {
        let input = sine(16000, 500.0, 16000);
        let mut resampler = Resampler::new(16000, 24000).expect("resampler");
        let mut out = Vec::new();
        for chunk in input.chunks(777) {
            resampler.push(chunk, &mut out).expect("push");
        }
        resampler.finish(&mut out).expect("finish");
        // Away from the edges, the output is a 500 Hz sine of the same amplitude: compare with
        // the ideal one, aligned (no delay left in).
        let ideal = sine(24000, 500.0, out.len());
        let worst = out[2000..22000]
            .iter()
            .zip(&ideal[2000..22000])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            worst < 0.01,
            "largest deviation from the ideal tone: {worst}"
        );
    }

    #[test]
    fn equal_rates_pass_through() {
        let mut resampler = Resampler::new(24000, 24000).expect("resampler");
        let mut out = Vec::new();
        resampler.push(&[0.1, 0.2], &mut out).expect("push");
        resampler.finish(&mut out).expect("finish");
        assert_eq!(out, [0.1, 0.2]);
    }

    #[test]
    fn a_rate_with_no_common_factor_resamples_with_fixed_memory_and_keeps_the_tone() {
        // 100,003 Hz is prime: the FFT resampler would be sized by it.
        let rate = 100_003;
        let input = sine(rate, 500.0, rate as usize);
        let mut resampler = Resampler::new(rate, 16_000).expect("resampler");
        let mut out = Vec::new();
        for chunk in input.chunks(4096) {
            resampler.push(chunk, &mut out).expect("push");
        }
        resampler.finish(&mut out).expect("finish");
        assert!(
            (out.len() as i64 - 16_000).abs() <= 2,
            "one second in, one second out: {}",
            out.len()
        );
        let ideal = sine(16_000, 500.0, out.len());
        // The tone's level survives (the phase may lag by the filter's delay).
        let rms = |s: &[f32]| (s.iter().map(|x| x * x).sum::<f32>() / s.len() as f32).sqrt();
        let (got, want) = (rms(&out[2000..14000]), rms(&ideal[2000..14000]));
        assert!((got - want).abs() < 0.03, "rms {got} against {want}");
    }

    #[test]
    fn rates_outside_the_range_are_refused_before_anything_is_sized() {
        for rate in [0, 999, 384_001, 100_000_007] {
            let refused = Resampler::new(rate, 16_000).err().map(|e| e.to_string());
            assert!(
                refused
                    .as_deref()
                    .is_some_and(|e| e.contains("between 1000 and 384000")),
                "{rate}: {refused:?}"
            );
        }
    }
}
