//! FLAC with `flacenc`, written as a stream: STREAMINFO first (total length and MD5 left
//! "unknown", as the format allows), then one frame per 4096 samples as they come.

use flacenc::bitsink::ByteSink;
use flacenc::component::{BitRepr, Stream, StreamInfo};
use flacenc::error::Verify;
use flacenc::source::{Fill, FrameBuf};

use super::Encoder;
use crate::audio::{AudioError, Format};

/// ~170 ms at 24 kHz: FLAC's usual block size.
const BLOCK: usize = 4096;

pub struct Flac {
    config: flacenc::error::Verified<flacenc::config::Encoder>,
    info: StreamInfo,
    header: Option<Vec<u8>>,
    pending: Vec<i32>,
    frames: usize,
}

fn failed(e: impl std::fmt::Debug) -> AudioError {
    AudioError::encode(Format::Flac, format!("{e:?}"))
}

impl Flac {
    pub fn new(rate: u32) -> Result<Self, AudioError> {
        let config = flacenc::config::Encoder::default()
            .into_verified()
            .map_err(|(_, e)| failed(e))?;
        let mut stream = Stream::new(rate as usize, 1, 16).map_err(failed)?;
        stream
            .stream_info_mut()
            .set_block_sizes(BLOCK, BLOCK)
            .map_err(failed)?;
        let info = stream.stream_info().clone();
        let mut sink = ByteSink::new();
        stream.write(&mut sink).map_err(failed)?;
        Ok(Self {
            config,
            info,
            header: Some(sink.as_slice().to_vec()),
            pending: Vec::new(),
            frames: 0,
        })
    }

    fn encode(&mut self, samples: usize, out: &mut Vec<u8>) -> Result<(), AudioError> {
        let mut buffer = FrameBuf::with_size(1, samples).map_err(failed)?;
        buffer
            .fill_interleaved(&self.pending[..samples])
            .map_err(failed)?;
        let frame =
            flacenc::encode_fixed_size_frame(&self.config, &buffer, self.frames, &self.info)
                .map_err(failed)?;
        let mut sink = ByteSink::new();
        frame.write(&mut sink).map_err(failed)?;
        out.extend_from_slice(sink.as_slice());
        self.frames += 1;
        self.pending.drain(..samples);
        Ok(())
    }

    fn header(&mut self, out: &mut Vec<u8>) {
        if let Some(header) = self.header.take() {
            out.extend(header);
        }
    }
}

impl Encoder for Flac {
    fn push(&mut self, samples: &[i16], out: &mut Vec<u8>) -> Result<(), AudioError> {
        self.header(out);
        self.pending.extend(samples.iter().map(|&s| i32::from(s)));
        while self.pending.len() >= BLOCK {
            self.encode(BLOCK, out)?;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), AudioError> {
        self.header(out);
        // FLAC's smallest block is 16 samples: a shorter tail is padded with silence.
        if !self.pending.is_empty() {
            let len = self.pending.len().max(16);
            self.pending.resize(len, 0);
            self.encode(len, out)?;
        }
        Ok(())
    }
}
