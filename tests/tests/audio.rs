//! Every OpenAI format for every engine: an engine hands Murmur raw audio, Murmur encodes it,
//! streaming, and a real decoder (FFmpeg, through PyAV) reads what a client gets. Here the
//! engine is the fake one, sending a tone in timed pieces; `piper.rs` does the same with the
//! real Piper engine.

use std::time::Duration;

use murmur_tests::Murmurd;
use murmur_tests::murmurd::fake_engine_config;
use murmur_tests::supervised::QUICK;
use murmur_tests::timed::{self, leave_after_first_piece};
use murmur_tests::tools::decode;

const FORMATS: [(&str, &str); 6] = [
    ("mp3", "audio/mpeg"),
    ("opus", "audio/opus"),
    ("aac", "audio/aac"),
    ("flac", "audio/flac"),
    ("wav", "audio/wav"),
    ("pcm", "audio/pcm"),
];

/// Five sentences: a tone of 30 ms a character from the fake engine ([`seconds`]), in 6
/// pieces 250 ms apart, so synthesis takes 1.25 s or more.
const TEXT: &str = "The first sentence is here. The second one follows it. A third comes next. \
                    Then there is a fourth sentence. And the fifth ends this paragraph now.";

/// How long the fake engine's tone for [`TEXT`] lasts.
fn seconds() -> f64 {
    TEXT.chars().count() as f64 * 0.03
}

fn tone_engine(kind: &str, rate: &str) -> Murmurd {
    let extra = format!("audio = \"{kind}\"\nsample_rate = 8000\n\n{QUICK}");
    Murmurd::start(&fake_engine_config(
        &[
            "--tone",
            kind,
            "--rate",
            rate,
            "--chunks",
            "6",
            "--chunk-delay-ms",
            "250",
        ],
        &extra,
    ))
}

fn speech(format: &str) -> String {
    format!(r#"{{"model":"tts-1","voice":"alloy","input":"{TEXT}","response_format":"{format}"}}"#)
}

/// [`TEXT`] in `format`: a 200 of `content_type`, and what a real decoder makes of it.
async fn speak_in(
    url: &str,
    format: &str,
    content_type: &str,
) -> (timed::Timed, murmur_tests::tools::Decoded) {
    let reply = timed::post(url, &speech(format), &[]).await;
    assert_eq!(
        reply.status,
        200,
        "{format}: {}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.content_type, content_type, "{format}");
    let decoded = decode(&reply.body, format).await;
    (reply, decoded)
}

#[tokio::test]
async fn every_format_decodes_streams_and_lasts_as_long_as_the_wav() {
    // PCM from the engine at 22.05 kHz, its rate in a header (the config's 8000 is overridden).
    let murmurd = tone_engine("pcm", "22050");
    let url = murmurd.url("/v1/audio/speech");
    // Warm up, so the first timed request does not include the engine's start.
    let warm = timed::post(&url, &speech("wav"), &[]).await;
    assert_eq!(warm.status, 200, "{}", String::from_utf8_lossy(&warm.body));

    let wav = decode(&warm.body, "wav").await;
    assert_eq!((wav.rate, wav.channels), (24000, 1));
    assert!(
        (wav.seconds - seconds()).abs() < 0.05,
        "wav lasts {:.3} s",
        wav.seconds
    );
    for (format, content_type) in FORMATS {
        let (reply, decoded) = speak_in(&url, format, content_type).await;
        assert!(
            reply.headers.get("content-length").is_none(),
            "{format} streams"
        );
        let ratio = decoded.seconds / wav.seconds;
        assert!(
            (0.95..=1.05).contains(&ratio),
            "{format}: {:.3} s against the wav's {:.3} s",
            decoded.seconds,
            wav.seconds
        );
        // The tone's RMS is 12000/32768/√2 ≈ 0.26.
        assert!(
            decoded.rms > 0.15,
            "{format} is (nearly) silent: rms {:.3}",
            decoded.rms
        );
        assert!(
            reply.first_byte + Duration::from_millis(600) < reply.total,
            "{format}: first audio after {:?}, all of it after {:?}: not streamed",
            reply.first_byte,
            reply.total
        );
        assert!(
            reply.pieces >= 3,
            "{format} came in {} pieces",
            reply.pieces
        );
        eprintln!(
            "{format:>4}: {} bytes, {:.3} s ({}, {} Hz), first byte {:?}, all {:?}",
            reply.body.len(),
            decoded.seconds,
            decoded.codec,
            decoded.rate,
            reply.first_byte,
            reply.total
        );
    }
    let opus = decode(&timed::post(&url, &speech("opus"), &[]).await.body, "opus").await;
    assert_eq!(
        (opus.codec.as_str(), opus.container.as_deref()),
        ("opus", Some("ogg")),
        "a voice note is Opus in Ogg"
    );
}

#[tokio::test]
async fn an_engine_that_sends_wav_gets_every_format_too() {
    let murmurd = tone_engine("wav", "16000");
    let url = murmurd.url("/v1/audio/speech");
    for (format, content_type) in FORMATS {
        let (_, decoded) = speak_in(&url, format, content_type).await;
        assert!(
            (decoded.seconds - seconds()).abs() < seconds() * 0.05,
            "{format}: {:.3} s",
            decoded.seconds
        );
        assert!(decoded.rms > 0.15, "{format}: rms {:.3}", decoded.rms);
    }
}

#[tokio::test]
async fn no_format_means_mp3_and_a_setting_changes_that() {
    let murmurd = tone_engine("pcm", "24000");
    let url = murmurd.url("/v1/audio/speech");
    let body = format!(r#"{{"input":"{TEXT}","voice":"coral","model":"gpt-4o-mini-tts"}}"#);
    let reply = timed::post(&url, &body, &[]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.content_type, "audio/mpeg");
    assert_eq!(decode(&reply.body, "mp3").await.codec, "mp3float");

    // The default is a setting, and a change applies to the next request.
    let saved = murmurd
        .change_settings(|s| s["engine"]["response_format"] = "flac".into())
        .await;
    assert_eq!(saved.status, 200, "{:?}", saved.json());
    let reply = timed::post(&url, &body, &[]).await;
    assert_eq!(reply.content_type, "audio/flac");
    assert_eq!(decode(&reply.body, "flac").await.codec, "flac");
}

#[tokio::test]
async fn sse_events_carry_the_same_audio() {
    use base64::Engine as _;
    let murmurd = tone_engine("pcm", "22050");
    let url = murmurd.url("/v1/audio/speech");
    for format in ["mp3", "pcm", "opus"] {
        let body =
            format!(r#"{{"input":"{TEXT}","response_format":"{format}","stream_format":"sse"}}"#);
        let reply = timed::post(&url, &body, &[]).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.content_type, "text/event-stream");
        let text = String::from_utf8(reply.body).expect("events are text");
        let events: Vec<serde_json::Value> = text
            .split("\n\n")
            .filter_map(|e| e.strip_prefix("data: "))
            .map(|e| serde_json::from_str(e).expect("JSON event"))
            .collect();
        let (last, deltas) = events.split_last().expect("events");
        assert_eq!(last["type"], "speech.audio.done");
        assert!(deltas.len() >= 3, "{format}: {} deltas", deltas.len());
        let mut audio = Vec::new();
        for delta in deltas {
            assert_eq!(delta["type"], "speech.audio.delta");
            audio.extend(
                base64::engine::general_purpose::STANDARD
                    .decode(delta["audio"].as_str().expect("audio"))
                    .expect("base64"),
            );
        }
        let decoded = decode(&audio, format).await;
        assert!(
            (decoded.seconds - seconds()).abs() < seconds() * 0.05,
            "{format} over sse: {:.3} s",
            decoded.seconds
        );
    }
}

#[tokio::test]
async fn a_client_leaving_stops_the_encoder_and_the_engine() {
    let murmurd = Murmurd::start(&fake_engine_config(
        &["--tone", "pcm", "--chunks", "40", "--chunk-delay-ms", "150"],
        &format!("audio = \"pcm\"\n\n{QUICK}"),
    ));
    let url = murmurd.url("/v1/audio/speech");
    // Ready first: the word Murmur asks for before "ready" is a whole request of its own.
    murmurd
        .control_post("/murmur/api/engines/speech/start")
        .await;
    murmurd
        .wait_for("ready", Duration::from_secs(30), |s| s["state"] == "ready")
        .await;
    let finished_before = murmurd.engine_log().matches("sent all 40 chunks").count();
    for (n, (format, _)) in FORMATS.iter().enumerate() {
        let status = leave_after_first_piece(&url, &speech(format)).await;
        assert_eq!(status, 200);
        // The engine notices at its next write: it says how far it got.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let log = murmurd.engine_log();
            let left = log.matches("client left after").count();
            assert_eq!(
                log.matches("sent all 40 chunks").count(),
                finished_before,
                "{format}: the engine kept going\n{log}"
            );
            if left == n + 1 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{format}: the engine never saw the client go\n{log}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
