//! Any bytes as a client's upload: the decoder answers audio or a refusal, never panics, and
//! never sizes anything by what a header claims — `make fuzz` runs it under libFuzzer's
//! memory limits (`-malloc_limit_mb`, `-rss_limit_mb`), so a header that makes the decoder or
//! the resampler ask for gigabytes is a crash found.
//!
//! As in Murmur, a panic inside the demuxers and decoders (symphonia has some on hostile
//! headers) is caught by `decode` and becomes a refusal: libFuzzer's aborting panic hook is
//! replaced once, so only a panic that escapes `decode` — or memory — is a crash found.
//!
//! The first byte picks how the rest is presented: as it is, behind a WAV header whose rate,
//! channels and width come from the input, or behind FLAC's magic — so the fuzzer reaches the
//! demuxers and decoders, not only the sniffing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use murmur_core::transcription::decode::decode;

static QUIET_PANICS: std::sync::Once = std::sync::Once::new();

fuzz_target!(|data: &[u8]| {
    QUIET_PANICS.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let bytes = match pick % 3 {
        0 => rest.to_vec(),
        1 if rest.len() >= 8 => {
            let (fields, body) = rest.split_at(8);
            let rate = u32::from_le_bytes([fields[0], fields[1], fields[2], fields[3]]);
            let channels = u16::from_le_bytes([fields[4], fields[5]]);
            let bits = u16::from(fields[6] % 4 + 1) * 8;
            let mut wav = b"RIFF\xff\xff\xff\xffWAVEfmt \x10\0\0\0\x01\0".to_vec();
            wav.extend_from_slice(&channels.to_le_bytes());
            wav.extend_from_slice(&rate.to_le_bytes());
            wav.extend_from_slice(&rate.wrapping_mul(u32::from(channels)).to_le_bytes());
            wav.extend_from_slice(&(channels.wrapping_mul(bits / 8)).to_le_bytes());
            wav.extend_from_slice(&bits.to_le_bytes());
            wav.extend_from_slice(b"data\xff\xff\xff\xff");
            wav.extend_from_slice(body);
            wav
        }
        _ => [b"fLaC".as_slice(), rest].concat(),
    };
    // An hour at most, as a server might allow: the cap on what decoding may hold.
    let _ = decode(bytes.into(), 3600);
});
