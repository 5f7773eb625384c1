//! Streaming sample-rate conversion to 24 kHz with rubato's FFT resampler.
//!
//! One resampler lives for a whole response, so its filter state carries across the engine's
//! chunks (sentences join without a click). Input is collected until a full chunk is there;
//! the resampler's start-up delay is cut from the front, and [`Resampler::finish`] flushes
//! the tail so the output is exactly `input × ratio` long.

use audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler as _};

use super::AudioError;

/// Input frames per FFT chunk: ~46 ms at 22.05 kHz, small enough not to delay first audio.
const CHUNK: usize = 1024;

pub struct Resampler {
    from: u32,
    to: u32,
    /// `None` when the rates are equal: samples pass through.
    fft: Option<Fft<f32>>,
    input: Vec<f32>,
    chunk_out: Vec<f32>,
    /// Output frames still to drop (the resampler's delay).
    delay_left: usize,
    frames_in: u64,
    frames_out: u64,
}

impl Resampler {
    pub fn new(from: u32, to: u32) -> Result<Self, AudioError> {
        let fft = if from == to {
            None
        } else {
            let fft = Fft::<f32>::new(from as usize, to as usize, CHUNK, 1, FixedSync::Input)
                .map_err(|e| AudioError::Resample {
                    from,
                    message: e.to_string(),
                })?;
            Some(fft)
        };
        let delay_left = fft.as_ref().map_or(0, |f| f.output_delay());
        let chunk_out = vec![0.0; fft.as_ref().map_or(0, |f| f.output_frames_max())];
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
        let (from, Some(fft)) = (self.from, self.fft.as_mut()) else {
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
}
