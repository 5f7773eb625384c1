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
