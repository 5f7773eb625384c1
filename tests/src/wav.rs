//! WAV files for tests, read and written by hand on purpose: the test checks the bytes Murmur
//! sends, and makes exact inputs, without going through the decoders under test.

/// A PCM WAV's format and samples.
pub struct Wav {
    pub rate: u32,
    pub channels: u16,
    pub bits: u16,
    pub samples: Vec<i16>,
}

/// Read a 16-bit PCM WAV; panics when it is not one.
pub fn parse(bytes: &[u8]) -> Wav {
    assert_eq!(&bytes[..4], b"RIFF");
    assert_eq!(&bytes[8..12], b"WAVE");
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    let u32_at =
        |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let mut at = 12;
    let (mut rate, mut channels, mut bits, mut data) = (0, 0, 0, &bytes[0..0]);
    while at + 8 <= bytes.len() {
        let (id, size) = (&bytes[at..at + 4], u32_at(at + 4) as usize);
        let body = &bytes[at + 8..(at + 8 + size).min(bytes.len())];
        match id {
            b"fmt " => {
                channels = u16_at(at + 10);
                rate = u32_at(at + 12);
                bits = u16_at(at + 22);
            }
            b"data" => data = body,
            _ => {}
        }
        at += 8 + size + size % 2;
    }
    let samples = data
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect();
    Wav {
        rate,
        channels,
        bits,
        samples,
    }
}

/// Root mean square of the samples, in sample units.
pub fn rms(samples: &[i16]) -> f64 {
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len().max(1) as f64).sqrt()
}

/// A 16-bit mono PCM WAV of `samples` at `rate`, with real lengths.
pub fn write(rate: u32, samples: &[i16]) -> Vec<u8> {
    let data = (samples.len() * 2) as u32;
    let mut bytes = Vec::with_capacity(44 + data as usize);
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + data).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes());
    bytes.extend_from_slice(&rate.to_le_bytes());
    bytes.extend_from_slice(&(rate * 2).to_le_bytes());
    bytes.extend_from_slice(&2u16.to_le_bytes());
    bytes.extend_from_slice(&16u16.to_le_bytes());
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&data.to_le_bytes());
    for sample in samples {
        bytes.extend_from_slice(&sample.to_le_bytes());
    }
    bytes
}
