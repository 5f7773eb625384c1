//! What each real client sends (../shared/CLIENTS.md), replayed byte for byte — headers and
//! body — against Murmur with an engine that hands it raw audio, and what that client needs
//! back. A real decoder (FFmpeg, through PyAV) checks the audio.

use murmur_tests::murmurd::fake_engine_config;
use murmur_tests::supervised::QUICK;
use murmur_tests::tools::decode;
use murmur_tests::{Client, Murmurd, timed};

const REPLY: &str = "Sure. I have added the meeting to your calendar for Tuesday at ten.";

fn murmurd(extra: &str) -> Murmurd {
    Murmurd::start(&fake_engine_config(
        &["--tone", "pcm", "--rate", "22050", "--chunks", "3"],
        &format!("audio = \"pcm\"\n\n{QUICK}\n{extra}"),
    ))
}

#[tokio::test]
async fn open_webui_gets_mp3_without_asking_and_lists_without_a_key() {
    let murmurd = murmurd("");
    // Server-side speech: {input, voice, model}, no response_format, its key as Bearer.
    let reply = timed::post(
        &murmurd.url("/v1/audio/speech"),
        &format!(r#"{{"input": "{REPLY}", "voice": "alloy", "model": "tts-1"}}"#),
        &[
            ("authorization", "Bearer sk-open-webui"),
            ("user-agent", "python-requests/2.32.3"),
        ],
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.content_type, "audio/mpeg",
        "pydub needs no ffmpeg for this"
    );
    assert!(decode(&reply.body, "mp3").await.seconds > 1.5);
}

#[tokio::test]
async fn discovery_answers_without_the_key_unless_a_setting_asks_for_it() {
    let open = murmurd("[proxy]\napi_key = \"secret\"\n");
    let client = Client::new();
    for path in [
        "/v1/audio/voices",
        "/v1/audio/models",
        "/v1/models",
        "/audio/voices",
    ] {
        let reply = client.get(&open.url(path)).await;
        assert_eq!(reply.status, 200, "{path}: {:?}", reply.json());
    }
    // Open WebUI's shape, made from the engine's own OpenAI list when it has none.
    let models = client.get(&open.url("/v1/audio/models")).await.json();
    assert_eq!(models["models"][0]["id"], "fake-engine", "{models}");
    // Speech still needs the key.
    let speech = client
        .post_json(&open.url("/v1/audio/speech"), r#"{"input":"hi"}"#)
        .await;
    assert_eq!(speech.status, 401);
    let closed = murmurd("[proxy]\napi_key = \"secret\"\ndiscovery_requires_key = true\n");
    let reply = client.get(&closed.url("/v1/audio/voices")).await;
    assert_eq!(reply.status, 401);
}

#[tokio::test]
async fn openclaw_gets_mp3_replies_ogg_opus_voice_notes_and_24khz_pcm_for_calls() {
    let murmurd = murmurd("");
    let headers = [
        ("authorization", "Bearer sk-placeholder"),
        ("user-agent", "undici"),
    ];
    // A baseUrl set without /v1 sends POST /audio/speech.
    for (path, format) in [
        ("/v1/audio/speech", "mp3"),
        ("/audio/speech", "mp3"),
        ("/v1/audio/speech", "opus"),
        ("/v1/audio/speech", "pcm"),
    ] {
        let body = format!(
            r#"{{"model":"gpt-4o-mini-tts","input":"{REPLY}","voice":"coral","response_format":"{format}","speed":1,"instructions":"Friendly and brief."}}"#
        );
        let reply = timed::post(&murmurd.url(path), &body, &headers).await;
        assert_eq!(reply.status, 200, "{path} {format}");
        assert!(
            reply.content_type.starts_with("audio/"),
            "{}",
            reply.content_type
        );
        let decoded = decode(&reply.body, format).await;
        match format {
            "opus" => assert_eq!(
                (decoded.codec.as_str(), decoded.container.as_deref()),
                ("opus", Some("ogg")),
                "a Telegram voice note must be Ogg Opus"
            ),
            "pcm" => assert_eq!(reply.body.len() % 2, 0, "s16le"),
            _ => assert_eq!(decoded.codec, "mp3float"),
        }
        // 68 characters × 30 ms of tone from the fake engine.
        assert!(
            (decoded.seconds - 2.04).abs() < 0.15,
            "{path} {format}: {:.2} s",
            decoded.seconds
        );
    }
}

#[tokio::test]
async fn sillytavern_and_home_assistant_get_what_they_ask_for() {
    let murmurd = murmurd("");
    let sillytavern = timed::post(
        &murmurd.url("/v1/audio/speech"),
        &format!(
            r#"{{"input":"{REPLY}","response_format":"mp3","voice":"nova","speed":1.25,"model":"tts-1"}}"#
        ),
        &[("authorization", "Bearer ")],
    )
    .await;
    assert_eq!(sillytavern.status, 200);
    assert_eq!(sillytavern.content_type, "audio/mpeg");

    let home_assistant = timed::post(
        &murmurd.url("/v1/audio/speech"),
        &format!(
            r#"{{"model":"tts-1","input":"{REPLY}","voice":"shimmer","response_format":"opus","speed":1.0}}"#
        ),
        &[("user-agent", "HomeAssistant-OpenAI-TTS")],
    )
    .await;
    assert_eq!(home_assistant.status, 200);
    assert_eq!(decode(&home_assistant.body, "opus").await.codec, "opus");
    // HA lists voices from the speech URL's folder, with ?limit=100.
    let voices = Client::new()
        .get(&murmurd.url("/v1/audio/voices?limit=100"))
        .await;
    assert_eq!(voices.status, 200);
}

#[tokio::test]
async fn every_request_is_logged_once_with_what_it_was() {
    let murmurd = murmurd("[proxy]\napi_key = \"secret\"\n");
    let ok = timed::post(
        &murmurd.url("/v1/audio/speech"),
        &format!(r#"{{"input":"{REPLY}","response_format":"opus"}}"#),
        &[("authorization", "bearer secret"), ("user-agent", "undici")],
    )
    .await;
    assert_eq!(ok.status, 200, "Bearer in any case");
    let refused = timed::post(
        &murmurd.url("/v1/audio/speech"),
        r#"{"input":"hi"}"#,
        &[("user-agent", "curl/8.5.0")],
    )
    .await;
    assert_eq!(refused.status, 401);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let log = loop {
        let log = murmurd.stderr();
        if log.contains("curl/8.5.0") || std::time::Instant::now() > deadline {
            break log;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("request method=POST"))
        .collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert!(
        lines[0].contains("INFO")
            && lines[0].contains("status=200")
            && lines[0].contains("format=\"opus\"")
            && lines[0].contains("first_byte_ms=")
            && lines[0].contains("agent=\"undici\"")
            && lines[0].contains(&format!("bytes={}", ok.body.len())),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("status=401") && lines[1].contains("curl/8.5.0"),
        "{}",
        lines[1]
    );
}
