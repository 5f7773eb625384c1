//! WAV and raw PCM: nothing to encode, only bytes to write.

use super::Encoder;
use crate::audio::AudioError;

/// OpenAI's `pcm`: s16le, mono, no header.
pub struct Pcm;

impl Encoder for Pcm {
    fn push(&mut self, samples: &[i16], out: &mut Vec<u8>) -> Result<(), AudioError> {
        out.extend(samples.iter().flat_map(|s| s.to_le_bytes()));
        Ok(())
    }

    fn finish(&mut self, _out: &mut Vec<u8>) -> Result<(), AudioError> {
        Ok(())
    }
}

/// A streamed WAV: the header goes first, before the length is known, so its two length
/// fields say "unknown" (0xFFFFFFFF), which decoders read as "until the end".
pub struct Wav {
    header: Option<[u8; 44]>,
}

impl Wav {
    pub fn new(rate: u32) -> Self {
        let mut header = [0u8; 44];
        let fields: [&[u8]; 13] = [
            b"RIFF",
            &u32::MAX.to_le_bytes(),
            b"WAVE",
            b"fmt ",
            &16u32.to_le_bytes(),
            &1u16.to_le_bytes(), // PCM
            &1u16.to_le_bytes(), // mono
            &rate.to_le_bytes(),
            &(rate * 2).to_le_bytes(), // bytes per second
            &2u16.to_le_bytes(),       // bytes per frame
            &16u16.to_le_bytes(),      // bits per sample
            b"data",
            &u32::MAX.to_le_bytes(),
        ];
        let mut at = 0;
        for field in fields {
            header[at..at + field.len()].copy_from_slice(field);
            at += field.len();
        }
        Self {
            header: Some(header),
        }
    }
}

impl Encoder for Wav {
    fn push(&mut self, samples: &[i16], out: &mut Vec<u8>) -> Result<(), AudioError> {
        if let Some(header) = self.header.take() {
            out.extend_from_slice(&header);
        }
        Pcm.push(samples, out)
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), AudioError> {
        self.push(&[], out)
    }
}

/// Fill in the lengths of a complete streamed WAV (one made by [`Wav`]), for players that
/// read a file and do not accept "unknown". Anything else is left as it is.
pub fn seal(wav: &mut [u8]) {
    let unknown = u32::MAX.to_le_bytes();
    if wav.len() < 44 || &wav[..4] != b"RIFF" || &wav[36..40] != b"data" || wav[40..44] != unknown {
        return;
    }
    let data = u32::try_from(wav.len() - 44).unwrap_or(u32::MAX);
    wav[4..8].copy_from_slice(&(data.saturating_add(36)).to_le_bytes());
    wav[40..44].copy_from_slice(&data.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_wav_states_its_lengths() {
        let mut out = Vec::new();
        let mut wav = Wav::new(24000);
        wav.push(&[1, 2, 3], &mut out).expect("push");
        wav.finish(&mut out).expect("finish");
        seal(&mut out);
        assert_eq!(&out[4..8], &(36u32 + 6).to_le_bytes());
        assert_eq!(&out[40..44], &6u32.to_le_bytes());
        let mut other = b"RIFF not ours".to_vec();
        seal(&mut other);
        assert_eq!(other, b"RIFF not ours");
    }
}
