//! The real Piper engine through Murmur's audio pipeline: every format decoded by a real
//! decoder (FFmpeg, through PyAV), the official OpenAI SDK, streaming and leaving mid-way,
//! and settings that apply to the next request.

use std::time::{Duration, Instant};

use murmur_tests::piper::ready_piper;
use murmur_tests::timed;
use murmur_tests::tools::{decode, run_script};

#[tokio::test]
async fn the_official_openai_sdk_works_unmodified() {
    let murmurd = ready_piper().await;
    let out = tempfile::tempdir().expect("tempdir");
    let printed = run_script(
        "sdk_client.py",
        &[&murmurd.url("/v1"), &out.path().to_string_lossy()],
    )
    .await;
    let summary: serde_json::Value = serde_json::from_str(printed.trim()).expect("summary");
    assert_eq!(summary["default_content_type"], "audio/mpeg", "{summary}");
    let file = |name: &str| std::fs::read(out.path().join(name)).expect("the SDK's file");
    let default = decode(&file("default.mp3"), "mp3").await;
    assert!(default.seconds > 2.0 && default.rms > 0.02, "{default:?}");
    for format in ["mp3", "opus", "aac", "flac", "wav", "pcm"] {
        let decoded = decode(&file(&format!("stream.{format}")), format).await;
        assert!(
            (decoded.seconds / default.seconds - 1.0).abs() < 0.08,
            "{format} through the SDK: {decoded:?} against mp3's {:.2} s",
            default.seconds
        );
        assert!(decoded.rms > 0.02, "{format}: {decoded:?}");
    }
    assert_eq!(summary["sse"]["content_type"], "text/event-stream");
    assert_eq!(summary["sse"]["last"], "speech.audio.done");
    let sse = decode(&file("sse.mp3"), "mp3").await;
    assert!(
        (sse.seconds / default.seconds - 1.0).abs() < 0.05,
        "the SSE deltas make the same audio: {sse:?}"
    );
}

/// The formats through the real engine: what a real decoder reads is as long as Murmur's WAV
/// of the same request, not silent, and its first bytes come before synthesis ends.
#[tokio::test]
async fn piper_speaks_every_format_streamed() {
    let murmurd = ready_piper().await;
    let url = murmurd.url("/v1/audio/speech");
    let text = "Murmur turns speech into every format itself. It resamples the engine's audio \
                to twenty four kilohertz. Then it encodes it, a sentence at a time. Nothing \
                waits for the whole paragraph. This is the fifth sentence, and the last one.";
    let body = |format: &str| {
        format!(r#"{{"input":"{text}","voice":"joe","response_format":"{format}"}}"#)
    };
    let wav = timed::post(&url, &body("wav"), &[]).await;
    assert_eq!(wav.status, 200);
    let reference = decode(&wav.body, "wav").await;
    assert!(reference.seconds > 8.0, "{reference:?}");
    for format in ["mp3", "opus", "aac", "flac", "wav", "pcm"] {
        let reply = timed::post(&url, &body(format), &[]).await;
        assert_eq!(reply.status, 200, "{format}");
        let decoded = decode(&reply.body, format).await;
        let ratio = decoded.seconds / reference.seconds;
        assert!(
            (0.95..=1.05).contains(&ratio),
            "{format}: {:.2} s against the WAV's {:.2} s",
            decoded.seconds,
            reference.seconds
        );
        assert!(decoded.rms > 0.02, "{format} is silent: {decoded:?}");
        assert!(
            reply.first_byte * 2 < reply.total,
            "{format}: first audio after {:?}, all after {:?}",
            reply.first_byte,
            reply.total
        );
        eprintln!(
            "piper {format:>4}: first audio {:>4} ms, all {:>4} ms, {:.2} s of audio, {} bytes",
            reply.first_byte.as_millis(),
            reply.total.as_millis(),
            decoded.seconds,
            reply.body.len()
        );
    }
}

/// A client that leaves mid-stream stops Piper's synthesis, whatever the format.
#[tokio::test]
async fn a_client_leaving_stops_piper_at_the_next_sentence() {
    let murmurd = ready_piper().await;
    let url = murmurd.url("/v1/audio/speech");
    let sentence = "This sentence is one of many that nobody will hear. ";
    let text = sentence.repeat(30);
    for (n, format) in ["mp3", "opus", "aac", "flac", "wav", "pcm"]
        .iter()
        .enumerate()
    {
        let body = format!(r#"{{"input":"{text}","response_format":"{format}"}}"#);
        assert_eq!(timed::leave_after_first_piece(&url, &body).await, 200);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let log = murmurd.engine_log();
            if log.matches("client left after").count() == n + 1 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{format}: Piper did not stop\n{log}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // And the next request is answered at once, not after the abandoned paragraph.
    let next = timed::post(&url, r#"{"input":"Still here."}"#, &[]).await;
    assert_eq!(next.status, 200);
    assert!(next.total < Duration::from_secs(5), "{:?}", next.total);
}

/// A speed set through the settings applies to the next request (it used to be frozen at
/// start).
#[tokio::test]
async fn a_saved_speed_applies_to_the_next_request() {
    let murmurd = ready_piper().await;
    let url = murmurd.url("/v1/audio/speech");
    let body = r#"{"input":"The speed comes from the settings.","response_format":"wav"}"#;
    let before = decode(&timed::post(&url, body, &[]).await.body, "wav").await;
    let saved = murmurd
        .change_settings(|s| s["engine"]["speed"] = 2.0.into())
        .await;
    assert_eq!(saved.status, 200, "{:?}", saved.json());
    let after = decode(&timed::post(&url, body, &[]).await.body, "wav").await;
    assert!(
        after.seconds < before.seconds * 0.7,
        "speed 2: {:.2} s, before {:.2} s",
        after.seconds,
        before.seconds
    );
}
