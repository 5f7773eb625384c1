//! AAC-LC in ADTS frames (what OpenAI's `aac` is), with the Fraunhofer FDK encoder.

use fdk_aac::enc::{AudioObjectType, BitRate, ChannelMode, EncoderParams, Transport};

use super::Encoder;
use crate::audio::{AudioError, Format};

const BITRATE: u32 = 64_000;
/// AAC-LC codes 1024 samples per frame.
const FRAME: usize = 1024;
/// Silence that pushes the encoder's look-ahead and last frame out at the end (FDK's Rust
/// binding has no explicit flush); decoders play it as a few ms of quiet.
const FLUSH: usize = 2 * FRAME;

pub struct Adts {
    codec: fdk_aac::enc::Encoder,
    pending: Vec<i16>,
    packet: Vec<u8>,
}

fn failed(e: impl std::fmt::Display) -> AudioError {
    AudioError::encode(Format::Aac, e)
}

impl Adts {
    pub fn new(rate: u32) -> Result<Self, AudioError> {
        let codec = fdk_aac::enc::Encoder::new(EncoderParams {
            bit_rate: BitRate::Cbr(BITRATE),
            sample_rate: rate,
            transport: Transport::Adts,
            channels: ChannelMode::Mono,
            audio_object_type: AudioObjectType::Mpeg4LowComplexity,
        })
        .map_err(failed)?;
        Ok(Self {
            codec,
            pending: Vec::new(),
            packet: vec![0; 8192],
        })
    }

    fn encode_frames(&mut self, out: &mut Vec<u8>) -> Result<(), AudioError> {
        let mut at = 0;
        while self.pending.len() - at >= FRAME {
            let info = self
                .codec
                .encode(&self.pending[at..at + FRAME], &mut self.packet)
                .map_err(failed)?;
            if info.input_consumed == 0 && info.output_size == 0 {
                return Err(failed("the encoder took no input"));
            }
            out.extend_from_slice(&self.packet[..info.output_size]);
            at += info.input_consumed;
        }
        self.pending.drain(..at);
        Ok(())
    }
}

impl Encoder for Adts {
    fn push(&mut self, samples: &[i16], out: &mut Vec<u8>) -> Result<(), AudioError> {
        self.pending.extend_from_slice(samples);
        self.encode_frames(out)
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), AudioError> {
        let padded = self.pending.len().div_ceil(FRAME) * FRAME + FLUSH;
        self.pending.resize(padded, 0);
        self.encode_frames(out)
    }
}
