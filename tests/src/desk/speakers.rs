//! The desk's speakers as the test hears them, and sound as a file for its microphone.

use std::process::Child;
use std::time::{Duration, Instant};

/// The speakers' sound as it is played, each chunk with when it arrived.
pub struct Speakers {
    child: Child,
    samples: std::sync::mpsc::Receiver<(Instant, Vec<i16>)>,
    pub heard: Vec<(Instant, Vec<i16>)>,
}

impl Speakers {
    /// Run `parec` (set to 16 kHz mono s16le) and collect what it hears.
    pub(super) fn record(mut parec: std::process::Command) -> Self {
        use std::io::Read;
        let mut child = parec
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("parec");
        let mut stdout = child.stdout.take().expect("stdout");
        let (send, samples) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 640];
            while let Ok(n) = stdout.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                let chunk: Vec<i16> = buffer[..n]
                    .chunks_exact(2)
                    .map(|b| i16::from_le_bytes([b[0], b[1]]))
                    .collect();
                if send.send((Instant::now(), chunk)).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            samples,
            heard: Vec::new(),
        }
    }

    /// Take what has arrived, waiting at most `for_at_most` for more.
    pub fn collect(&mut self, for_at_most: Duration) {
        let until = Instant::now() + for_at_most;
        while let Ok(chunk) = self
            .samples
            .recv_timeout(until.saturating_duration_since(Instant::now()))
        {
            self.heard.push(chunk);
            if Instant::now() >= until {
                break;
            }
        }
    }

    /// Whether a chunk is sound (not the null sink's silence).
    pub fn loud(chunk: &[i16]) -> bool {
        let power =
            chunk.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / chunk.len().max(1) as f64;
        power.sqrt() > 200.0
    }

    /// Everything heard, as 16 kHz samples.
    pub fn samples(&self) -> Vec<i16> {
        self.heard
            .iter()
            .flat_map(|(_, c)| c.iter().copied())
            .collect()
    }

    /// When the last loud chunk arrived.
    pub fn last_sound(&self) -> Option<Instant> {
        self.heard
            .iter()
            .rev()
            .find(|(_, c)| Self::loud(c))
            .map(|(at, _)| *at)
    }

    pub fn first_sound(&self) -> Option<Instant> {
        self.heard
            .iter()
            .find(|(_, c)| Self::loud(c))
            .map(|(at, _)| *at)
    }
}

impl Drop for Speakers {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Mono 16-bit samples at `rate` as a WAV file.
pub fn wav(samples: &[i16], rate: u32) -> Vec<u8> {
    crate::wav::write(rate, samples)
}
