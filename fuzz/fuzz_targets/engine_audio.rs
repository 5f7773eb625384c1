//! Any bytes as an engine's WAV or PCM answer, split anywhere: the audio pipeline encodes
//! what it can or returns an error; it never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use murmur_core::audio::{EngineAudio, Format, Pipeline};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let format = Format::ALL[usize::from(pick) % Format::ALL.len()];
    let source = if pick & 0x80 == 0 {
        EngineAudio::Wav
    } else {
        EngineAudio::Pcm { rate: 8000 + u32::from(pick) * 300 }
    };
    let Ok(mut pipeline) = Pipeline::new(source, format, pick & 0x40 != 0) else {
        return;
    };
    let split = rest.len() / 3;
    for piece in [&rest[..split], &rest[split..]] {
        if pipeline.push(piece).is_err() {
            return;
        }
    }
    let _ = pipeline.finish();
});
