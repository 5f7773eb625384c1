//! Decoding uploads made here, byte by byte: WAVs at every rate, streamed, stereo, too long,
//! and bytes that are not audio.

use super::*;

fn wav(rate: u32, channels: u16, samples: &[i16], streamed: bool) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(if streamed { u32::MAX } else { 36 + data_len }).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * u32::from(channels) * 2).to_le_bytes());
    out.extend_from_slice(&(channels * 2).to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(if streamed { u32::MAX } else { data_len }).to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

fn tone(rate: u32, secs: f64) -> Vec<i16> {
    (0..(f64::from(rate) * secs) as usize)
        .map(|i| {
            ((i as f64 * 440.0 * std::f64::consts::TAU / f64::from(rate)).sin() * 12_000.0) as i16
        })
        .collect()
}

#[test]
fn a_wav_at_any_rate_becomes_16_khz_of_the_same_length() {
    for rate in [8_000, 16_000, 22_050, 44_100, 48_000] {
        let decoded =
            decode(Bytes::from(wav(rate, 1, &tone(rate, 1.5), false)), 60).expect("decodes");
        assert_eq!(decoded.format, "wav");
        assert!(
            (decoded.seconds - 1.5).abs() < 0.01,
            "{rate} Hz: {} s",
            decoded.seconds
        );
        let peak = decoded.samples.iter().map(|s| s.unsigned_abs()).max();
        assert!(
            peak > Some(10_000),
            "{rate} Hz: the tone survives: {peak:?}"
        );
    }
}

#[test]
fn a_streamed_wav_is_read_to_its_end() {
    let decoded =
        decode(Bytes::from(wav(24_000, 1, &tone(24_000, 2.0), true)), 60).expect("decodes");
    assert!((decoded.seconds - 2.0).abs() < 0.01, "{}", decoded.seconds);
}

#[test]
fn stereo_is_averaged_to_mono() {
    // Left a tone, right its inverse: the mono mix is silence.
    let left = tone(16_000, 1.0);
    let interleaved: Vec<i16> = left.iter().flat_map(|s| [*s, -*s]).collect();
    let decoded = decode(Bytes::from(wav(16_000, 2, &interleaved, false)), 60).expect("decodes");
    assert!((decoded.seconds - 1.0).abs() < 0.01);
    assert!(decoded.samples.iter().all(|s| s.unsigned_abs() <= 1));
}

#[test]
fn audio_past_the_limit_is_refused() {
    let err =
        decode(Bytes::from(wav(8_000, 1, &vec![0; 8_000 * 3], false)), 2).expect_err("too long");
    assert_eq!(err, DecodeError::TooLong { max_secs: 2 });
}

#[test]
fn what_is_not_audio_is_named() {
    assert_eq!(
        decode(Bytes::new(), 60).expect_err("empty"),
        DecodeError::Empty
    );
    let zip = decode(Bytes::from_static(b"PK\x03\x04rest of an archive"), 60).expect_err("zip");
    assert!(zip.to_string().contains("a ZIP archive"), "{zip}");
    let text = decode(Bytes::from_static(b"hello, this is not audio"), 60).expect_err("text");
    assert!(text.to_string().contains("(text)"), "{text}");
    let noise: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 1)
        .collect();
    assert!(matches!(
        decode(Bytes::from(noise), 60),
        Err(DecodeError::Unrecognised { .. })
    ));
}

#[test]
fn a_wav_header_alone_has_no_audio() {
    let header = wav(16_000, 1, &[], false);
    assert!(matches!(
        decode(Bytes::from(header), 60),
        Err(DecodeError::NoAudio { .. }) | Err(DecodeError::Corrupt { .. })
    ));
}

/// A 4 KB WAV whose header claims `rate` and `channels`.
fn lying_wav(rate: u32, channels: u16) -> Bytes {
    let mut bytes = wav(16_000, 1, &tone(16_000, 0.125), false);
    bytes[22..24].copy_from_slice(&channels.to_le_bytes());
    bytes[24..28].copy_from_slice(&rate.to_le_bytes());
    Bytes::from(bytes)
}

#[test]
fn rates_and_channel_counts_murmur_cannot_handle_are_refused_not_sized_nor_panicked_on() {
    // A prime rate once sized the resampler at 1.6 GB; rate 0 panicked inside symphonia.
    for (rate, channels) in [
        (100_000_007, 1),
        (10_000_019, 1),
        (0, 1),
        (999, 1),
        (16_000, 1000),
    ] {
        let refused = decode(lying_wav(rate, channels), 60);
        assert!(
            matches!(refused, Err(DecodeError::Unsupported { .. })),
            "{rate} Hz × {channels}: {refused:?}"
        );
        let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(!message.contains("panicked"), "{message}");
    }
    // An odd but real rate decodes.
    let odd = Bytes::from(wav(44_101, 1, &tone(44_101, 1.0), false));
    let decoded = decode(odd, 60).expect("an odd rate decodes");
    assert!((decoded.seconds - 1.0).abs() < 0.01, "{}", decoded.seconds);
}

#[test]
fn long_audio_is_cut_in_pieces_at_its_quietest_moment() {
    let rate = RATE as usize;
    // 25 s of tone with a 200 ms pause at 8.5 s: pieces of at most 10 s, looked for in the
    // last 3 s.
    let mut samples: Vec<i16> = tone(RATE, 25.0);
    for s in &mut samples[rate * 85 / 10..rate * 87 / 10] {
        *s = 0;
    }
    let pieces = pieces(&samples, 10 * rate, 3 * rate);
    assert_eq!(pieces.first().map(|p| p.start), Some(0));
    assert_eq!(pieces.last().map(|p| p.end), Some(samples.len()));
    for pair in pieces.windows(2) {
        assert_eq!(pair[0].end, pair[1].start, "{pieces:?}");
    }
    assert!(pieces.iter().all(|p| p.len() <= 10 * rate), "{pieces:?}");
    let cut = pieces[0].end as f64 / rate as f64;
    assert!((8.5..=8.7).contains(&cut), "cut inside the pause: {cut} s");
    // Short audio is one piece.
    let short = super::pieces(&samples[..rate], 10 * rate, 3 * rate);
    assert_eq!(short.len(), 1);
    assert_eq!((short[0].start, short[0].end), (0, rate));
}
