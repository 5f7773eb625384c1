//! Listening at its edges, with the real engines (see `listening.rs`): bad uploads are refused
//! before the transcription engine hears of them, silence is empty text, and the two engines
//! run side by side and apart — a long transcription never holds speech up, a killed
//! transcription engine ends its stream cleanly, and idle unload stops only transcription.

use murmur_core::status::State;
use murmur_tests::listening::{PARAGRAPH, Stage, speak, transcribe, transcription_stream, wer};
use murmur_tests::supervised::transcription_of;
use murmur_tests::tools::run_script;

#[tokio::test]
async fn bad_uploads_are_refused_before_the_engine_hears_of_them() {
    let stage = Stage::new().await;
    let murmurd = stage.murmurd("max_audio_secs = 60\n").await;
    let mp3 = speak(&murmurd, "A short sentence to cut.", "mp3").await;
    // Five minutes of silence: a small FLAC that decodes past max_audio_secs.
    let flac_of_silence = silence_flac(300.0).await;
    let random: Vec<u8> = (0..65_536u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8 | 1)
        .collect();
    let zip = {
        let mut zip = b"PK\x03\x04".to_vec();
        zip.extend_from_slice(&[0u8; 2048]);
        zip
    };
    let huge = vec![0u8; 30 * 1024 * 1024];
    let cases: [(&str, &[u8], u16, &str); 6] = [
        ("random.mp3", &random, 400, "invalid_audio"),
        (
            "cut.mp3",
            &mp3[..200.min(mp3.len())],
            400,
            "audio_too_short",
        ),
        ("archive.mp3", &zip, 400, "invalid_audio"),
        ("empty.wav", b"", 400, "empty_file"),
        ("huge.wav", &huge, 413, "request_too_large"),
        ("silence.flac", &flac_of_silence, 413, "audio_too_long"),
    ];
    for (name, bytes, status, code) in cases {
        let reply = transcribe(
            &murmurd,
            "/v1/audio/transcriptions",
            &[("model", "whisper-1")],
            name,
            bytes,
        )
        .await;
        assert_eq!(
            reply.status.as_u16(),
            status,
            "{name}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        assert_eq!(reply.error_code(), code, "{name}");
        eprintln!(
            "{name}: {} {}",
            reply.status,
            reply.json()["error"]["message"]
        );
    }
    let status = murmurd.engine().await;
    assert_eq!(
        transcription_of(&status).state,
        State::Stopped,
        "nothing reached the engine, so it never started: {status:#?}"
    );
    assert!(
        !stage.hub.requests().iter().any(|r| r.contains("/resolve/")),
        "no model was fetched"
    );

    // Silence is an empty transcript, not a hallucinated "Thank you.".
    let reply = transcribe(
        &murmurd,
        "/v1/audio/transcriptions",
        &[],
        "quiet.flac",
        &silence_flac(4.0).await,
    )
    .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(
        reply.json()["text"],
        "",
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
}

/// `seconds` of digital silence at 16 kHz as FLAC, encoded by FFmpeg (PyAV).
async fn silence_flac(seconds: f64) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tmp");
    let wav = dir.path().join("silence.wav");
    let silence = vec![0i16; (16_000.0 * seconds) as usize];
    std::fs::write(&wav, murmur_tests::wav::write(16_000, &silence)).expect("write");
    run_script(
        "containers.py",
        &[
            "--flac",
            &wav.to_string_lossy(),
            &dir.path().to_string_lossy(),
        ],
    )
    .await;
    std::fs::read(dir.path().join("silence.flac")).expect("flac")
}

/// The two engines side by side: speech answers while a long transcription runs; a killed
/// transcription engine is a clean error and the next request works; idle unload stops only
/// the transcription engine.
#[tokio::test]
async fn the_engines_run_side_by_side_and_apart() {
    let stage = Stage::new().await;
    let murmurd = stage.murmurd("idle_unload_secs = 4\n").await;
    let long_text = [PARAGRAPH; 8].join(" ");
    let long = speak(&murmurd, &long_text, "mp3").await;
    let short = speak(&murmurd, PARAGRAPH, "wav").await;

    // A first request starts the engine; then a long one, with speech asked meanwhile.
    let first = transcribe(&murmurd, "/v1/audio/transcriptions", &[], "a.wav", &short).await;
    assert_eq!(first.status, 200);
    let response = transcription_stream(&murmurd, "long.mp3", &long).await;
    let (busy, engine_busy) = tokio::sync::oneshot::channel();
    let listening = tokio::spawn(async move {
        let mut body = response.into_body();
        let (mut events, mut busy) = (String::new(), Some(busy));
        while let Some(frame) = http_body_util::BodyExt::frame(&mut body).await {
            if let Ok(data) = frame.expect("a whole frame").into_data() {
                events.push_str(&String::from_utf8_lossy(&data));
            }
            if events.contains("transcript.text.delta") {
                busy.take().map(|busy| busy.send(()));
            }
        }
        (events, std::time::Instant::now())
    });
    // The engine is mid-transcription once its first words are out; speech asked now must
    // not wait for the rest.
    engine_busy.await.expect("a first delta");
    let spoken = speak(&murmurd, "A quick word while the engine listens.", "wav").await;
    let spoke_at = std::time::Instant::now();
    assert!(spoken.len() > 10_000);
    let (events, heard_at) = listening.await.expect("joined");
    assert!(spoke_at < heard_at, "speech waited for the transcription");
    let done = events
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["type"] == "transcript.text.done")
        .unwrap_or_else(|| panic!("no done event: {events}"));
    let heard = done["text"].as_str().expect("text").to_string();
    assert!(wer(&long_text, &heard) <= 0.15, "{heard}");

    // Killed mid-request: once the stream has its first words, the engine dies; the stream
    // ends with an error event (not a hang, not a reset), and the next request works.
    let status = murmurd.engine().await;
    let pid = transcription_of(&status).engine.pid.expect("pid");
    let response = transcription_stream(&murmurd, "long.mp3", &long).await;
    let mut body = response.into_body();
    let mut events = String::new();
    let mut killed = false;
    while let Some(frame) = http_body_util::BodyExt::frame(&mut body).await {
        let Ok(data) = frame.expect("a whole frame").into_data() else {
            continue;
        };
        events.push_str(&String::from_utf8_lossy(&data));
        if !killed && events.contains("transcript.text.delta") {
            murmur_tests::murmurd::kill(pid, libc::SIGKILL);
            killed = true;
        }
    }
    assert!(killed, "no delta came: {events}");
    let last = events.trim().lines().last().unwrap_or_default();
    let last: serde_json::Value =
        serde_json::from_str(last.trim_start_matches("data: ")).expect("an event");
    assert_eq!(last["type"], "error", "{events}");
    assert!(!events.contains("transcript.text.done"), "{events}");
    let again = transcribe(&murmurd, "/v1/audio/transcriptions", &[], "a.wav", &short).await;
    assert_eq!(
        again.status,
        200,
        "{}",
        String::from_utf8_lossy(&again.body)
    );
    let status = murmurd.engine().await;
    assert_ne!(transcription_of(&status).engine.pid, Some(pid));
    assert_eq!(
        status.state,
        State::Ready,
        "speech never noticed: {status:#?}"
    );

    // Idle: only the transcription engine unloads.
    let status = murmurd
        .wait_for_engine(
            "transcription idle",
            std::time::Duration::from_secs(60),
            |s| transcription_of(s).state == State::Idle,
        )
        .await;
    assert_eq!(status.state, State::Ready, "{status:#?}");
    let after = transcribe(&murmurd, "/v1/audio/transcriptions", &[], "a.wav", &short).await;
    assert_eq!(
        after.status, 200,
        "an idle engine wakes on the next request"
    );
}
