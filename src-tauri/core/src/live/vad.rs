//! Turn detection: where speech starts and stops in a live stream, decided in Murmur (so every
//! engine gets it) by Earshot, a small pure-Rust voice-activity network (16 ms frames at
//! 16 kHz, ~8 KiB per session, thousands of times faster than real time).
//!
//! Speech starts when a few frames in a row are voiced (a click is not a turn) and stops after
//! `silence_duration_ms` of unvoiced frames; the times are milliseconds of audio since the
//! session began, as OpenAI's events carry them.

use super::config::TurnDetection;

/// Samples per frame at 16 kHz (16 ms).
pub const FRAME: usize = 256;

/// Voiced frames in a row that begin a turn (48 ms).
const ONSET_FRAMES: u32 = 3;

/// What a frame changed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Edge {
    /// Speech began at `start_ms` (its onset, before any padding).
    Started { start_ms: u64 },
    /// Speech ended at `end_ms` (the end of its last voiced frame).
    Stopped { end_ms: u64 },
}

pub struct Vad {
    detector: Box<earshot::Detector>,
    settings: TurnDetection,
    /// Samples not yet a whole frame.
    pending: Vec<i16>,
    /// Frames seen since the session began.
    frames: u64,
    voiced_run: u32,
    speaking: bool,
    /// The frame after the last voiced one.
    last_voiced_end: u64,
}

impl Vad {
    pub fn new(settings: TurnDetection) -> Self {
        Self {
            detector: earshot::Detector::default_boxed(),
            settings,
            pending: Vec::with_capacity(FRAME),
            frames: 0,
            voiced_run: 0,
            speaking: false,
            last_voiced_end: 0,
        }
    }

    /// New settings mid-session; the stream's clock and state carry on.
    pub fn set(&mut self, settings: TurnDetection) {
        self.settings = settings;
    }

    /// Where the last voiced frame ended (frames since the session began): it moves whenever
    /// voice is heard.
    pub fn last_voice(&self) -> u64 {
        self.last_voiced_end
    }

    /// Milliseconds since the last voiced frame.
    pub fn quiet_ms(&self) -> u64 {
        frames_ms(self.frames - self.last_voiced_end)
    }

    /// Forget a turn in progress (the client cleared the buffer).
    pub fn reset(&mut self) {
        self.speaking = false;
        self.voiced_run = 0;
    }

    /// Feed 16 kHz samples; the edges they cross, in order.
    pub fn push(&mut self, samples: &[i16], edges: &mut Vec<Edge>) {
        let mut samples = samples;
        while !samples.is_empty() {
            let take = (FRAME - self.pending.len()).min(samples.len());
            self.pending.extend_from_slice(&samples[..take]);
            samples = &samples[take..];
            if self.pending.len() == FRAME {
                let score = self.detector.predict_i16(&self.pending);
                self.pending.clear();
                self.frame(score >= self.settings.threshold, edges);
            }
        }
    }

    fn frame(&mut self, voiced: bool, edges: &mut Vec<Edge>) {
        self.frames += 1;
        if voiced {
            self.voiced_run += 1;
            self.last_voiced_end = self.frames;
            if !self.speaking && self.voiced_run >= ONSET_FRAMES {
                self.speaking = true;
                let onset = self.frames - u64::from(ONSET_FRAMES);
                edges.push(Edge::Started {
                    start_ms: frames_ms(onset),
                });
            }
        } else {
            self.voiced_run = 0;
            let silent_ms = frames_ms(self.frames - self.last_voiced_end);
            if self.speaking && silent_ms >= u64::from(self.settings.silence_duration_ms) {
                self.speaking = false;
                edges.push(Edge::Stopped {
                    end_ms: frames_ms(self.last_voiced_end),
                });
            }
        }
    }
}

fn frames_ms(frames: u64) -> u64 {
    frames * FRAME as u64 * 1000 / u64::from(crate::transcription::decode::RATE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn silence(ms: usize) -> Vec<i16> {
        vec![0; ms * 16]
    }

    #[test]
    fn silence_and_a_steady_tone_are_not_speech() {
        let mut vad = Vad::new(TurnDetection::default());
        let mut edges = Vec::new();
        vad.push(&silence(2_000), &mut edges);
        let tone: Vec<i16> = (0..32_000)
            .map(|i| ((i as f32 * 1000.0 * std::f32::consts::TAU / 16_000.0).sin() * 6000.0) as i16)
            .collect();
        vad.push(&tone, &mut edges);
        assert!(edges.is_empty(), "{edges:?}");
    }
}
