//! Opus in Ogg (RFC 7845), the format of voice notes: libopus for the codec, `ogg` for pages.
//!
//! Each push ends an Ogg page, so the client gets audio as soon as a sentence is encoded. The
//! encoder's look-ahead is declared as pre-skip, and the last page's granule position marks
//! where the real audio ends, so decoders drop both the priming and the padding.

use ogg::writing::{PacketWriteEndInfo, PacketWriter};
use opus::{Application, Bitrate, Channels};

use super::Encoder;
use crate::audio::{AudioError, Format};

/// 20 ms: Opus's usual frame for speech.
const FRAME_MS: u32 = 20;
const BITRATE: i32 = 32_000;
/// libopus's effort, 0–10 (default 10). 5 halves the encoding time; for speech at 32 kbit/s
/// the difference is not audible, and encoding stays well under a tenth of synthesis.
const COMPLEXITY: i32 = 5;
/// Granule positions count 48 kHz samples, whatever the input rate.
const GRANULE_RATE: u32 = 48_000;
const VENDOR: &[u8] = b"Murmur";

pub struct OggOpus {
    codec: opus::Encoder,
    pages: PacketWriter<'static, Vec<u8>>,
    serial: u32,
    frame: usize,
    /// 48 kHz samples per input sample.
    scale: u64,
    pre_skip: u16,
    pending: Vec<i16>,
    /// Input samples taken so far, and input samples encoded (whole frames).
    taken: u64,
    encoded: u64,
    headers: bool,
    packet: Vec<u8>,
}

fn failed(e: impl std::fmt::Display) -> AudioError {
    AudioError::encode(Format::Opus, e)
}

impl OggOpus {
    pub fn new(rate: u32) -> Result<Self, AudioError> {
        let mut codec =
            opus::Encoder::new(rate, Channels::Mono, Application::Voip).map_err(failed)?;
        codec.set_bitrate(Bitrate::Bits(BITRATE)).map_err(failed)?;
        codec.set_complexity(COMPLEXITY).map_err(failed)?;
        let scale = u64::from(GRANULE_RATE / rate);
        let lookahead = codec.get_lookahead().map_err(failed)?;
        let pre_skip = u16::try_from(lookahead as u64 * scale).map_err(failed)?;
        let serial = u32::from_le_bytes(
            *b"mrmr", // one logical stream per file: any serial will do
        );
        Ok(Self {
            codec,
            pages: PacketWriter::new(Vec::new()),
            serial,
            frame: (rate * FRAME_MS / 1000) as usize,
            scale,
            pre_skip,
            pending: Vec::new(),
            taken: 0,
            encoded: 0,
            headers: false,
            packet: vec![0; 4000],
        })
    }

    fn write_headers(&mut self, rate: u32) -> Result<(), AudioError> {
        let mut head = b"OpusHead".to_vec();
        head.push(1); // version
        head.push(1); // channels
        head.extend(self.pre_skip.to_le_bytes());
        head.extend(rate.to_le_bytes()); // the input's rate, for information
        head.extend(0i16.to_le_bytes()); // output gain
        head.push(0); // channel mapping family: mono/stereo
        let mut tags = b"OpusTags".to_vec();
        tags.extend((VENDOR.len() as u32).to_le_bytes());
        tags.extend(VENDOR);
        tags.extend(0u32.to_le_bytes()); // no comments
        for header in [head, tags] {
            self.pages
                .write_packet(header, self.serial, PacketWriteEndInfo::EndPage, 0)
                .map_err(failed)?;
        }
        self.headers = true;
        Ok(())
    }

    /// Encode every whole frame in `pending`; the last one written ends a page (or the
    /// stream, with `last`).
    fn encode_frames(&mut self, last: bool) -> Result<(), AudioError> {
        let frames = self.pending.len() / self.frame;
        for i in 0..frames {
            let samples = &self.pending[i * self.frame..(i + 1) * self.frame];
            let len = self
                .codec
                .encode(samples, &mut self.packet)
                .map_err(failed)?;
            self.encoded += self.frame as u64;
            let end = if i + 1 < frames {
                PacketWriteEndInfo::NormalPacket
            } else if last {
                PacketWriteEndInfo::EndStream
            } else {
                PacketWriteEndInfo::EndPage
            };
            // A page's granule position counts the samples its packets decode to, pre-skip
            // included; the last one instead marks where the real input ended, so decoders
            // drop the padding.
            let granule = if last && i + 1 == frames {
                u64::from(self.pre_skip) + self.taken * self.scale
            } else {
                self.encoded * self.scale
            };
            self.pages
                .write_packet(self.packet[..len].to_vec(), self.serial, end, granule)
                .map_err(failed)?;
        }
        self.pending.drain(..frames * self.frame);
        Ok(())
    }

    fn drain(&mut self, out: &mut Vec<u8>) {
        out.append(self.pages.inner_mut());
    }
}

impl Encoder for OggOpus {
    fn push(&mut self, samples: &[i16], out: &mut Vec<u8>) -> Result<(), AudioError> {
        if !self.headers {
            let rate = (GRANULE_RATE as u64 / self.scale) as u32;
            self.write_headers(rate)?;
        }
        self.pending.extend_from_slice(samples);
        self.taken += samples.len() as u64;
        self.encode_frames(false)?;
        self.drain(out);
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), AudioError> {
        self.push(&[], out)?;
        // Push the look-ahead out with silence, then pad to a whole frame.
        let tail = self.pending.len() + usize::from(self.pre_skip) / self.scale as usize;
        let padded = tail.div_ceil(self.frame).max(1) * self.frame;
        self.pending.resize(padded, 0);
        self.encode_frames(true)?;
        self.drain(out);
        Ok(())
    }
}
