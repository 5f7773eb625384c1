//! The real OpenClaw CLI (npm `openclaw` 2026.9.6 on Node 24) transcribes voice notes through
//! Murmur, configured as `../shared/CLIENTS.md` says a user configures it (`tools.media` with
//! Murmur's base URL, `allowPrivateNetwork` for a loopback address): an mp3 and an Ogg Opus
//! note that Piper spoke, heard by the real Whisper engine.

use std::time::Duration;

use murmur_tests::listening::{PARAGRAPH, Stage, speak, wer};
use murmur_tests::tools::openclaw;
use serde_json::Value;

#[tokio::test]
async fn openclaw_transcribes_an_mp3_and_an_ogg_opus_voice_note() {
    let (node, cli) = openclaw().await;
    let stage = Stage::new().await;
    let murmurd = stage.murmurd("").await;
    let home = tempfile::tempdir().expect("tmp");
    let base = murmurd.url("/v1");
    let config = serde_json::json!({
        "models": { "providers": { "openai": {
            "apiKey": "sk-local",
            "baseUrl": base,
            "request": { "allowPrivateNetwork": true },
        } } },
        "tools": { "media": {
            "models": [{
                "provider": "openai",
                "model": "whisper-1",
                "baseUrl": base,
                "capabilities": ["audio"],
            }],
            "audio": { "enabled": true },
        } },
    });
    std::fs::create_dir_all(home.path().join(".openclaw")).expect("mkdir");
    std::fs::write(
        home.path().join(".openclaw/openclaw.json"),
        serde_json::to_string_pretty(&config).expect("json"),
    )
    .expect("write the config");

    for (format, name) in [("mp3", "memo.mp3"), ("opus", "voice-note.ogg")] {
        let file = home.path().join(name);
        std::fs::write(&file, speak(&murmurd, PARAGRAPH, format).await).expect("write");
        let run = tokio::time::timeout(
            Duration::from_secs(180),
            tokio::process::Command::new(&node)
                .arg(&cli)
                .args(["infer", "audio", "transcribe", "--json", "--file"])
                .arg(&file)
                .env("HOME", home.path())
                .env_remove("OPENAI_API_KEY")
                .env("NO_COLOR", "1")
                .current_dir(home.path())
                .kill_on_drop(true)
                .output(),
        )
        .await
        .expect("OpenClaw answered within 3 minutes")
        .expect("run OpenClaw");
        let stdout = String::from_utf8_lossy(&run.stdout);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(
            run.status.success(),
            "{name}: {}\n{stdout}\n{stderr}\n{}",
            run.status,
            murmurd.stderr()
        );
        let json_start = stdout
            .find('{')
            .unwrap_or_else(|| panic!("{stdout}\n{stderr}"));
        let answer: Value = serde_json::from_str(stdout[json_start..].trim())
            .unwrap_or_else(|e| panic!("{e}: {stdout}"));
        let text = find_text(&answer).unwrap_or_else(|| panic!("no text in {answer:#}"));
        let rate = wer(PARAGRAPH, &text);
        eprintln!("OpenClaw, {name}: WER {:.1} %: {text}", rate * 100.0);
        assert!(rate <= 0.15, "{name}: WER {rate:.2}: {text}");
    }
    // Murmur saw OpenClaw's own requests (its user agent), one per note.
    let log = murmurd.stderr();
    let posts = log
        .lines()
        .filter(|l| l.contains("path=\"/v1/audio/transcriptions\"") && l.contains("status=200"))
        .count();
    assert!(posts >= 2, "{log}");
}

/// The transcript's text wherever OpenClaw's JSON puts it.
fn find_text(value: &Value) -> Option<String> {
    match value {
        Value::Object(map) => map
            .get("text")
            .and_then(Value::as_str)
            .filter(|t| t.split_whitespace().count() > 5)
            .map(String::from)
            .or_else(|| map.values().find_map(find_text)),
        Value::Array(items) => items.iter().find_map(find_text),
        _ => None,
    }
}
