//! The packet loops behind [`super::decode`]: symphonia's decoders, and libopus for Opus,
//! each feeding the [`Sink`] that resamples, checks the length and keeps the samples.

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::DecoderOptions;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatReader;

use super::{RATE, Sink, Stop};

/// Whether a reader's error is the end of the stream (a file simply ends; a truncated one
/// too: what was whole is kept).
fn is_end(error: &SymphoniaError) -> bool {
    matches!(error, SymphoniaError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof)
        || matches!(error, SymphoniaError::ResetRequired)
}

/// The next packet of `track_id`; `None` at the end (a damaged end after some audio counts as
/// the end: what was whole is kept).
fn next_packet(
    reader: &mut dyn FormatReader,
    track_id: u32,
    sink: &Sink,
) -> Result<Option<symphonia::core::formats::Packet>, Stop> {
    loop {
        match reader.next_packet() {
            Ok(packet) if packet.track_id() == track_id => return Ok(Some(packet)),
            Ok(_) => {}
            Err(e) if is_end(&e) => return Ok(None),
            Err(e) if sink.frames > 0 => {
                tracing::debug!("upload ends in a damaged packet: {e}");
                return Ok(None);
            }
            Err(e) => return Err(Stop::Corrupt(e.to_string())),
        }
    }
}

/// Packets whose payload cannot be decoded are skipped, up to this many.
const BAD_PACKETS: usize = 64;

pub(super) fn decode_symphonia(
    reader: &mut dyn FormatReader,
    track_id: u32,
    params: &symphonia::core::codecs::CodecParameters,
    sink: &mut Sink,
) -> Result<(), Stop> {
    let mut decoder = symphonia::default::get_codecs()
        .make(params, &DecoderOptions::default())
        .map_err(|e| Stop::Corrupt(e.to_string()))?;
    let mut buffer: Option<SampleBuffer<f32>> = None;
    let mut bad = 0;
    while let Some(packet) = next_packet(reader, track_id, sink)? {
        let decoded = match decoder.decode(&packet) {
            Ok(decoded) => decoded,
            Err(SymphoniaError::DecodeError(why)) => {
                bad += 1;
                if bad > BAD_PACKETS {
                    return Err(Stop::Corrupt(why.to_string()));
                }
                continue;
            }
            Err(e) if is_end(&e) => return Ok(()),
            Err(e) => return Err(Stop::Corrupt(e.to_string())),
        };
        let spec = *decoded.spec();
        let frames = decoded.capacity() as u64;
        let buffer = match &mut buffer {
            Some(buffer) if buffer.capacity() as u64 >= frames * spec.channels.count() as u64 => {
                buffer
            }
            slot => slot.insert(SampleBuffer::new(frames, spec)),
        };
        buffer.copy_interleaved_ref(decoded);
        sink.push(buffer.samples(), spec.channels.count(), spec.rate)?;
    }
    Ok(())
}

/// libopus decodes straight to 16 kHz (whatever rate the stream was made at): cheaper than
/// decoding at 48 kHz and resampling. The longest frame is 120 ms.
const OPUS_RATE: u32 = RATE;
const OPUS_MAX_FRAME: usize = RATE as usize * 120 / 1000;

pub(super) fn decode_opus(
    reader: &mut dyn FormatReader,
    track_id: u32,
    channels: usize,
    sink: &mut Sink,
) -> Result<(), Stop> {
    let layout = if channels == 2 {
        opus::Channels::Stereo
    } else {
        opus::Channels::Mono
    };
    let mut decoder =
        opus::Decoder::new(OPUS_RATE, layout).map_err(|e| Stop::Corrupt(e.to_string()))?;
    let mut pcm = vec![0f32; OPUS_MAX_FRAME * channels];
    let mut bad = 0;
    while let Some(packet) = next_packet(reader, track_id, sink)? {
        if packet.data.is_empty() {
            continue;
        }
        match decoder.decode_float(&packet.data, &mut pcm, false) {
            Ok(frames) => sink.push(&pcm[..frames * channels], channels, OPUS_RATE)?,
            Err(e) => {
                bad += 1;
                if bad > BAD_PACKETS {
                    return Err(Stop::Corrupt(e.to_string()));
                }
            }
        }
    }
    Ok(())
}
