//! MP3 with LAME: CBR, so every frame stands alone and a stream can be cut anywhere.

use mp3lame_encoder::{Bitrate, Builder, FlushGap, Mode, MonoPcm, Quality};

use super::Encoder;
use crate::audio::{AudioError, Format};

/// 64 kbit/s mono at 24 kHz is transparent for speech.
const BITRATE: Bitrate = Bitrate::Kbps64;

pub struct Mp3 {
    lame: mp3lame_encoder::Encoder,
}

fn failed(e: impl std::fmt::Display) -> AudioError {
    AudioError::encode(Format::Mp3, e)
}

impl Mp3 {
    pub fn new(rate: u32) -> Result<Self, AudioError> {
        let mut builder = Builder::new().ok_or_else(|| failed("LAME could not be initialised"))?;
        builder.set_num_channels(1).map_err(failed)?;
        builder.set_sample_rate(rate).map_err(failed)?;
        builder.set_brate(BITRATE).map_err(failed)?;
        builder.set_mode(Mode::Mono).map_err(failed)?;
        builder.set_quality(Quality::Good).map_err(failed)?;
        // No Xing/LAME tag: it would be a placeholder frame that a stream never fills in.
        builder.set_to_write_vbr_tag(false).map_err(failed)?;
        Ok(Self {
            lame: builder.build().map_err(failed)?,
        })
    }
}

impl Encoder for Mp3 {
    fn push(&mut self, samples: &[i16], out: &mut Vec<u8>) -> Result<(), AudioError> {
        if samples.is_empty() {
            return Ok(());
        }
        out.reserve(mp3lame_encoder::max_required_buffer_size(samples.len()));
        self.lame
            .encode_to_vec(MonoPcm(samples), out)
            .map_err(failed)?;
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), AudioError> {
        out.reserve(7200);
        self.lame.flush_to_vec::<FlushGap>(out).map_err(failed)?;
        Ok(())
    }
}
