//! Encoders: 24 kHz mono s16 samples in, the client's format out, a piece at a time.
//!
//! | format | codec (crate) | container |
//! |---|---|---|
//! | mp3 | LAME (`mp3lame-encoder`), CBR 64 kbit/s | MPEG-2 Layer III frames, no Xing/ID3 header |
//! | opus | libopus (`opus`), 32 kbit/s VBR, complexity 5, 20 ms frames | Ogg (`ogg`), one page per push |
//! | aac | Fraunhofer FDK AAC (`fdk-aac`), AAC-LC 64 kbit/s | ADTS |
//! | flac | `flacenc` (pure Rust), 4096-sample blocks | native FLAC, length unknown |
//! | wav | — | RIFF with unknown (streamed) lengths |
//! | pcm | — | raw s16le |

mod aac;
mod flac;
mod mp3;
mod opus;
mod wav;

pub use wav::seal as seal_wav;

use super::{AudioError, Format};

/// One response's encoder.
pub trait Encoder: Send {
    /// Encode `samples`; whatever the codec has ready is appended to `out`.
    fn push(&mut self, samples: &[i16], out: &mut Vec<u8>) -> Result<(), AudioError>;

    /// The input ended: flush every buffered sample and close the stream.
    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), AudioError>;
}

/// The encoder for `format`, for mono audio at `rate`.
pub fn new(format: Format, rate: u32) -> Result<Box<dyn Encoder>, AudioError> {
    Ok(match format {
        Format::Mp3 => Box::new(mp3::Mp3::new(rate)?),
        Format::Opus => Box::new(opus::OggOpus::new(rate)?),
        Format::Aac => Box::new(aac::Adts::new(rate)?),
        Format::Flac => Box::new(flac::Flac::new(rate)?),
        Format::Wav => Box::new(wav::Wav::new(rate)),
        Format::Pcm => Box::new(wav::Pcm),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every encoder turns a second of tone into output, in pieces, and says when it is done;
    /// that the output decodes is checked end to end with a real decoder (tests/audio.rs).
    #[test]
    fn every_format_produces_output_and_grows_with_input() {
        let tone: Vec<i16> = (0..24000)
            .map(|i| ((i as f32 * 0.1).sin() * 8000.0) as i16)
            .collect();
        for format in Format::ALL {
            let mut sizes = Vec::new();
            for seconds in [1, 3] {
                let mut encoder = new(format, 24000).expect("encoder");
                let mut out = Vec::new();
                for _ in 0..seconds {
                    for piece in tone.chunks(3000) {
                        encoder.push(piece, &mut out).expect("push");
                    }
                }
                encoder.finish(&mut out).expect("finish");
                sizes.push(out.len());
            }
            assert!(sizes[0] > 0, "{format}: no output");
            assert!(sizes[1] > sizes[0] * 2, "{format}: {sizes:?}");
        }
    }

    #[test]
    fn containers_start_with_their_magic() {
        let magic: [(Format, &[u8]); 4] = [
            (Format::Opus, b"OggS"),
            (Format::Flac, b"fLaC"),
            (Format::Wav, b"RIFF"),
            (Format::Aac, &[0xFF]),
        ];
        for (format, expected) in magic {
            let mut encoder = new(format, 24000).expect("encoder");
            let mut out = Vec::new();
            encoder.push(&[0; 4800], &mut out).expect("push");
            encoder.finish(&mut out).expect("finish");
            assert!(out.starts_with(expected), "{format}: {:?}", &out[..8]);
        }
        let mut mp3 = new(Format::Mp3, 24000).expect("encoder");
        let mut out = Vec::new();
        mp3.push(&[0; 4800], &mut out).expect("push");
        mp3.finish(&mut out).expect("finish");
        // An MPEG audio frame sync: 11 set bits.
        assert!(out[0] == 0xFF && out[1] & 0xE0 == 0xE0, "{:?}", &out[..4]);
    }
}
