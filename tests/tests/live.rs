//! Live transcription (`/v1/realtime?intent=transcription`) under `murmurd`, with the real
//! Whisper engine (`tiny.en`) and Piper's speech played in real time: the OpenAI Python SDK's
//! session, words while the speech is still playing, deltas that add up to the transcript.

use murmur_tests::listening::{Stage, wer};
use murmur_tests::live::{one_at_a_time, run, speech_file, warm_murmurd};
use murmur_tests::tools::prometheus;
use serde_json::Value;

const SAID: &str = "The library opens early in the morning and closes late in the evening, \
                    every day except on public holidays.";

fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

#[tokio::test]
async fn the_openai_sdk_hears_words_while_the_speech_plays() {
    let _turn = one_at_a_time().await;
    let stage = Stage::new().await;
    let murmurd = warm_murmurd(&stage, "").await;
    let (_dir, pcm) = speech_file(&murmurd, SAID).await;
    let ws = murmurd.url("/v1").replacen("http://", "ws://", 1);
    let summary = run("sdk_realtime.py", &[&ws, &pcm.to_string_lossy()]).await;
    let events: Vec<Value> = summary["events"].as_array().expect("events").clone();
    let speech_end = summary["speech_end"].as_f64().expect("speech_end");
    eprintln!(
        "{}",
        serde_json::to_string_pretty(&events).unwrap_or_default()
    );

    assert_eq!(events[0]["type"], "session.created");
    assert_eq!(events[0]["session"]["type"], "transcription");
    assert_eq!(events[1]["type"], "session.updated");
    assert!(of_type(&events, "error").is_empty(), "{events:?}");

    let started = of_type(&events, "input_audio_buffer.speech_started");
    let committed = of_type(&events, "input_audio_buffer.committed");
    let completed = of_type(
        &events,
        "conversation.item.input_audio_transcription.completed",
    );
    assert!(!started.is_empty() && committed.len() == completed.len());
    let start_ms = started[0]["audio_start_ms"]
        .as_f64()
        .expect("audio_start_ms");
    let onset = summary["voice_onset_ms"].as_f64().expect("voice_onset_ms");
    assert!(
        (onset - 300.0 - 100.0..=onset + 50.0).contains(&start_ms),
        "the turn begins at the voice's onset ({onset} ms) less the 300 ms padding: {start_ms}"
    );

    // Words while the speech still played, and each turn's deltas are its transcript.
    let deltas = of_type(&events, "conversation.item.input_audio_transcription.delta");
    let early = deltas
        .iter()
        .filter(|d| d["t"].as_f64().unwrap_or(f64::MAX) < speech_end)
        .count();
    // (Four, here, on an idle machine; a loaded one decodes slower, and decodes rest as long
    // as they take.)
    eprintln!("{early} deltas before the speech ended");
    assert!(
        early >= 1,
        "no delta before the speech ended at {speech_end} s"
    );
    for done in &completed {
        let item = &done["item_id"];
        let joined: String = deltas
            .iter()
            .filter(|d| &d["item_id"] == item)
            .filter_map(|d| d["delta"].as_str())
            .collect();
        assert_eq!(Some(joined.as_str()), done["transcript"].as_str());
    }
    let heard: Vec<&str> = completed
        .iter()
        .filter_map(|c| c["transcript"].as_str())
        .collect();
    let heard = heard.join(" ");
    let rate = wer(SAID, &heard);
    eprintln!("WER {:.1} %: {heard}", rate * 100.0);
    assert!(rate <= 0.15, "{heard}");
    // The last transcript follows the end of the speech by the silence window and a decode.
    let last = completed.last().and_then(|c| c["t"].as_f64()).expect("t");
    eprintln!(
        "completed {:.2} s after the speech ended",
        last - speech_end
    );

    // The session's figures: Prometheus's, parsed by its own client.
    let families = prometheus(&murmurd).await;
    let sample = |name: &str| {
        families
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|f| f["samples"].as_array().into_iter().flatten())
            .find(|s| s["name"] == name)
            .and_then(|s| s["value"].as_f64())
            .unwrap_or_else(|| panic!("{name} in {families}"))
    };
    assert_eq!(sample("murmur_live_sessions_total"), 1.0);
    assert_eq!(sample("murmur_live_turns_total"), completed.len() as f64);
    assert!(sample("murmur_live_first_delta_seconds_count") >= 1.0);
    let heard = sample("murmur_live_audio_seconds_total");
    assert!(heard > speech_end, "{heard} s of audio");
}

#[tokio::test]
async fn livekit_agents_realtime_stt_gets_interim_and_final_transcripts() {
    let _turn = one_at_a_time().await;
    let stage = Stage::new().await;
    let murmurd = warm_murmurd(&stage, "").await;
    let (_dir, pcm) = speech_file(&murmurd, SAID).await;
    let summary = run(
        "livekit_stt.py",
        &[&murmurd.url("/v1"), &pcm.to_string_lossy()],
    )
    .await;
    let events: Vec<Value> = summary["events"].as_array().expect("events").clone();
    let speech_end = summary["speech_end"].as_f64().expect("speech_end");
    eprintln!(
        "{}",
        serde_json::to_string_pretty(&events).unwrap_or_default()
    );
    let interim = of_type(&events, "INTERIM_TRANSCRIPT");
    let finals = of_type(&events, "FINAL_TRANSCRIPT");
    assert!(
        interim
            .iter()
            .any(|e| e["t"].as_f64().is_some_and(|t| t < speech_end)),
        "interim transcripts while the speech plays"
    );
    let heard: Vec<&str> = finals.iter().filter_map(|e| e["text"].as_str()).collect();
    let heard = heard.join(" ");
    assert!(wer(SAID, &heard) <= 0.15, "{heard}");
}

#[tokio::test]
async fn a_pipecat_pipeline_gets_interim_and_final_transcription_frames() {
    let _turn = one_at_a_time().await;
    let stage = Stage::new().await;
    let murmurd = warm_murmurd(&stage, "").await;
    let (_dir, pcm) = speech_file(&murmurd, SAID).await;
    let ws = murmurd.url("/v1/realtime").replacen("http://", "ws://", 1);
    let summary = run("pipecat_stt.py", &[&ws, &pcm.to_string_lossy()]).await;
    let events: Vec<Value> = summary["events"].as_array().expect("events").clone();
    let speech_end = summary["speech_end"].as_f64().expect("speech_end");
    eprintln!(
        "{}",
        serde_json::to_string_pretty(&events).unwrap_or_default()
    );
    assert!(
        of_type(&events, "interim")
            .iter()
            .any(|e| e["t"].as_f64().is_some_and(|t| t < speech_end)),
        "interim frames while the speech plays"
    );
    let heard: Vec<&str> = of_type(&events, "final")
        .iter()
        .filter_map(|e| e["text"].as_str())
        .collect();
    let heard = heard.join(" ");
    assert!(wer(SAID, &heard) <= 0.15, "{heard}");
}

/// The README's nginx configuration in front of Murmur: the SDK's live session through it
/// works unchanged.
#[tokio::test]
async fn behind_nginx_a_live_session_works_unchanged() {
    let _turn = one_at_a_time().await;
    let stage = Stage::new().await;
    let murmurd = warm_murmurd(&stage, "").await;
    let Some(nginx) = murmur_tests::nginx::Nginx::start(
        &murmurd.url(""),
        "proxy_set_header Host $host;\nproxy_read_timeout 3600s;",
    )
    .expect("nginx") else {
        panic!("nginx is not installed: scripts/install-deps.sh test installs it");
    };
    let (_dir, pcm) = speech_file(&murmurd, SAID).await;
    let ws = format!("{}/v1", nginx.base.replacen("http://", "ws://", 1));
    let summary = run("sdk_realtime.py", &[&ws, &pcm.to_string_lossy()]).await;
    let events: Vec<Value> = summary["events"].as_array().expect("events").clone();
    assert!(of_type(&events, "error").is_empty(), "{events:?}");
    assert!(!of_type(&events, "conversation.item.input_audio_transcription.delta").is_empty());
    let heard: Vec<&str> = of_type(
        &events,
        "conversation.item.input_audio_transcription.completed",
    )
    .iter()
    .filter_map(|c| c["transcript"].as_str())
    .collect();
    let heard = heard.join(" ");
    assert!(wer(SAID, &heard) <= 0.15, "{heard}");
}
