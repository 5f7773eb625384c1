//! Wyoming's streaming transcripts from the live core: the real `wyoming` client streams
//! Piper's speech in real time (as a satellite's microphone would) and gets
//! `transcript-start`, words in `transcript-chunk`s while it still speaks, then the whole
//! `transcript` (the chunks' concatenation) and `transcript-stop`.

use murmur_tests::free_port;
use murmur_tests::listening::{Stage, speak, wer};
use murmur_tests::tools::wyoming_client;
use serde_json::Value;

const SAID: &str = "Turn on the lights in the living room and set the heating to twenty degrees.";

#[tokio::test]
async fn a_satellite_gets_words_while_it_still_streams() {
    let stage = Stage::new().await;
    let port = free_port();
    let murmurd = murmur_tests::live::warm_murmurd(
        &stage,
        &format!("\n[wyoming]\nenabled = true\nport = {port}\n"),
    )
    .await;
    let port = port.to_string();
    let info = wyoming_client(&["127.0.0.1", &port, "describe"]).await;
    assert_eq!(
        info["asr"][0]["supports_transcript_streaming"], true,
        "{info}"
    );

    let dir = tempfile::tempdir().expect("tmp");
    let wav = dir.path().join("said.wav");
    std::fs::write(&wav, speak(&murmurd, SAID, "wav").await).expect("write");
    let heard =
        wyoming_client(&["127.0.0.1", &port, "live", &wav.to_string_lossy(), "16000"]).await;
    let events: Vec<Value> = heard["events"].as_array().expect("events").clone();
    eprintln!(
        "{}",
        serde_json::to_string_pretty(&events).unwrap_or_default()
    );
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(kinds.first(), Some(&"transcript-start"), "{kinds:?}");
    assert_eq!(
        kinds[kinds.len() - 2..],
        ["transcript", "transcript-stop"],
        "{kinds:?}"
    );
    let speech_end = heard["speech_end"].as_f64().expect("speech_end");
    let chunks: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "transcript-chunk")
        .collect();
    assert!(
        chunks
            .iter()
            .filter(|c| c["t"].as_f64().is_some_and(|t| t < speech_end))
            .count()
            >= 2,
        "words while the speech still streams (it ended at {speech_end} s)"
    );
    let joined: String = chunks.iter().filter_map(|c| c["text"].as_str()).collect();
    let transcript = events
        .iter()
        .find(|e| e["type"] == "transcript")
        .and_then(|e| e["text"].as_str())
        .expect("transcript");
    assert_eq!(joined, transcript);
    assert!(wer(SAID, transcript) <= 0.15, "{transcript}");
}
