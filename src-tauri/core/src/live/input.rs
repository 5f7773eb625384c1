//! The audio a live client appends (24 kHz PCM, G.711 μ-law or A-law), decoded as it comes to
//! the 16 kHz mono samples the VAD and the engine take.

use super::config::Format;
use crate::audio::resample::Resampler;
use crate::transcription::decode;

/// One session's decoder; made again when the session's format changes.
pub struct Input {
    format: Format,
    resampler: Resampler,
    /// A PCM sample split across two appends.
    carry: Option<u8>,
    decoded: Vec<f32>,
    scratch: Vec<f32>,
}

impl Input {
    pub fn new(format: Format) -> Self {
        let resampler = Resampler::new(format.rate(), decode::RATE)
            .unwrap_or_else(|_| unreachable!("the live formats' rates are within range"));
        Self {
            format,
            resampler,
            carry: None,
            decoded: Vec::new(),
            scratch: Vec::new(),
        }
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Decode `bytes`; the 16 kHz samples they complete are appended to `out`.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<i16>) {
        self.decoded.clear();
        match self.format {
            Format::Pcm { .. } => {
                let mut bytes = bytes;
                if let (Some(low), Some((&high, rest))) = (self.carry.take(), bytes.split_first()) {
                    self.decoded.push(pcm(low, high));
                    bytes = rest;
                }
                let whole = bytes.len() - bytes.len() % 2;
                self.decoded
                    .extend(bytes[..whole].chunks_exact(2).map(|b| pcm(b[0], b[1])));
                if whole < bytes.len() {
                    self.carry = Some(bytes[whole]);
                }
            }
            Format::Pcmu => self.decoded.extend(bytes.iter().map(|&b| mulaw(b))),
            Format::Pcma => self.decoded.extend(bytes.iter().map(|&b| alaw(b))),
        }
        if self
            .resampler
            .push(&self.decoded, &mut self.scratch)
            .is_ok()
        {
            decode::keep(&mut self.scratch, out);
        }
    }
}

fn pcm(low: u8, high: u8) -> f32 {
    f32::from(i16::from_le_bytes([low, high])) / 32768.0
}

/// G.711 μ-law to linear (ITU-T G.711).
fn mulaw(byte: u8) -> f32 {
    let u = !byte;
    let exponent = (u >> 4) & 0x07;
    let mantissa = i32::from(u & 0x0F);
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    let value = if u & 0x80 != 0 { -magnitude } else { magnitude };
    value as f32 / 32768.0
}

/// G.711 A-law to linear (ITU-T G.711).
fn alaw(byte: u8) -> f32 {
    let a = byte ^ 0x55;
    let exponent = (a >> 4) & 0x07;
    let mantissa = i32::from(a & 0x0F);
    let magnitude = match exponent {
        0 => (mantissa << 4) + 8,
        e => ((mantissa << 4) + 0x108) << (e - 1),
    };
    let value = if a & 0x80 != 0 { magnitude } else { -magnitude };
    value as f32 / 32768.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// G.711's own encoders (the reference algorithm), to check the decoders round-trip.
    fn mulaw_encode(sample: i16) -> u8 {
        let sign = if sample < 0 { 0x80 } else { 0 };
        let magnitude = (i32::from(sample).abs().min(32635) + 0x84) as u32;
        let exponent = (31 - magnitude.leading_zeros()).saturating_sub(7).min(7);
        let mantissa = (magnitude >> (exponent + 3)) & 0x0F;
        !(sign | (exponent << 4) as u8 | mantissa as u8)
    }

    #[test]
    fn mulaw_round_trips_within_its_step() {
        for sample in (-32000i16..32000).step_by(97) {
            let back = (mulaw(mulaw_encode(sample)) * 32768.0) as i32;
            let step = (i32::from(sample).abs() / 16).max(8);
            assert!(
                (back - i32::from(sample)).abs() <= step,
                "{sample} → {back}"
            );
        }
    }

    #[test]
    fn alaw_known_codes() {
        // From G.711's table: 0xD5 is the smallest positive step, 0x55 its negative, 0xAA
        // the largest positive value.
        assert_eq!((alaw(0xD5) * 32768.0) as i32, 8);
        assert_eq!((alaw(0x55) * 32768.0) as i32, -8);
        assert_eq!((alaw(0xAA) * 32768.0) as i32, 32256);
    }

    #[test]
    fn pcm_at_24k_becomes_two_thirds_the_samples_even_split_oddly() {
        let mut input = Input::new(Format::Pcm { rate: 24_000 });
        let tone: Vec<u8> = (0..24_000)
            .flat_map(|i| {
                let s =
                    ((i as f32 * 440.0 * std::f32::consts::TAU / 24_000.0).sin() * 8000.0) as i16;
                s.to_le_bytes()
            })
            .collect();
        let mut out = Vec::new();
        for chunk in tone.chunks(4801) {
            input.push(chunk, &mut out);
        }
        // The resampler holds back at most a block.
        assert!((15_000..=16_000).contains(&out.len()), "{}", out.len());
        let peak = out.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        assert!((7_000..=9_000).contains(&peak), "peak {peak}");
    }
}
