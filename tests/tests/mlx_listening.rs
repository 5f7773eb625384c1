//! Transcription by the MLX Audio engine on Linux, uploads and live sessions: the real
//! `murmurd` provisions the real locked environment (MLX's CPU build), fetches the front end's
//! asset and a Whisper model from a loopback stand-in for the Hugging Face Hub, starts the real
//! `mlx_audio.server` for transcription beside Piper for speech, and the OpenAI Python SDK's
//! live session (`/v1/realtime?intent=transcription`) and an upload both come back with the
//! model's words.
//!
//! The model is Whisper-shaped with random weights and the real English tokenizer
//! (`tests/fixtures/mlx/make_whisper_model.py`): what it says is not what was spoken, but the
//! same words for any audio, printed by the maker when it loads the model itself — so the
//! transcripts are checked against the engine's own words. What this cannot show: a real
//! Whisper model on a Mac's GPU, and how fast that is.

use std::time::Duration;

use murmur_tests::listening::{speak, transcribe};
use murmur_tests::live::run;
use murmur_tests::mlx::{MlxStage, run_fixture};
use murmur_tests::murmurd::source_tree;
use murmur_tests::tools::{prometheus, whisper_tiny_en};
use murmur_tests::{Murmurd, supervised::ready};
use serde_json::Value;

const REPO: &str = "murmur-test/whisper-noise";
const SAID: &str = "The library opens early in the morning and closes late in the evening.";

/// The transcription engine's entry in a status.
fn transcription(status: &Value) -> Value {
    status["engines"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["capability"] == "transcription")
        .cloned()
        .unwrap_or(Value::Null)
}

/// Wait until the transcription engine's start has ended, and return its entry.
async fn settled(murmurd: &Murmurd, why: &str) -> Value {
    let status = murmurd
        .wait_for(why, Duration::from_secs(900), |s| {
            matches!(transcription(s)["state"].as_str(), Some("ready" | "failed"))
        })
        .await;
    transcription(&status)
}

fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

// Several threads: the stand-ins keep serving while the test waits on a fixture's process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mlx_engine_transcribes_uploads_and_live_sessions() {
    let stage = MlxStage::new(&["mlx-audio", "piper"]).await;
    let murmurd = stage.launch(&format!(
        "[runtime]\n{keys}\n[transcription]\nengine = \"mlx-audio\"\nmodel = {REPO:?}\n\n\
         [supervisor]\nrestart_on_crash = false\nstartup_timeout_secs = 300\n",
        keys = stage.runtime_keys(),
    ));
    ready(&murmurd, Duration::from_secs(300)).await;

    // The first start builds the environment and stops at the asset its source lacks; the
    // environment's Python then builds the stand-ins.
    murmurd
        .control_post("/murmur/api/engines/transcription/start")
        .await;
    let failed = settled(&murmurd, "the missing asset").await;
    assert_eq!(failed["state"], "failed", "{failed:#}");
    let python = murmurd
        .data_dir()
        .join("runtimes/mlx-audio/.venv/bin/python");
    let work = tempfile::tempdir().expect("tmp");
    stage.provide_front_end(&python, work.path());
    let model = work.path().join("model");
    let tokenizer = whisper_tiny_en().await.join("tokenizer.json");
    let maker = source_tree().join("tests/fixtures/mlx/make_whisper_model.py");
    let made = run_fixture(&python, &[&maker, &model, &tokenizer]);
    let words = made["text"]
        .as_str()
        .expect("the model's words")
        .to_string();
    assert!(!words.is_empty(), "{made}");
    stage.hub.put_dir(REPO, &model);

    // Murmur fetches the model and starts the server.
    murmurd
        .control_post("/murmur/api/engines/transcription/restart")
        .await;
    let engine = settled(&murmurd, "mlx transcription ready").await;
    assert_eq!(
        engine["state"],
        "ready",
        "{engine:#}\n{}",
        murmurd.engine_log()
    );
    assert_eq!(engine["engine"]["id"], "mlx-audio");
    assert!(engine["engine"]["pid"].is_u64(), "{engine:#}");
    assert!(
        stage
            .hub
            .requests()
            .iter()
            .any(|r| r.contains(REPO) && r.ends_with("/model.safetensors")),
        "{:?}",
        stage.hub.requests()
    );

    // An upload: the engine's words, through OpenAI's route to it.
    let wav = speak(&murmurd, SAID, "wav").await;
    let reply = transcribe(
        &murmurd,
        "/v1/audio/transcriptions",
        &[("model", "gpt-transcribe")],
        "speech.wav",
        &wav,
    )
    .await;
    assert_eq!(
        reply.status,
        200,
        "{}\n{}",
        String::from_utf8_lossy(&reply.body),
        murmurd.engine_log()
    );
    assert_eq!(reply.json()["text"].as_str(), Some(words.as_str()));

    // A live session, as the OpenAI SDK opens one, the speech played in real time: Murmur's
    // VAD finds the turn and the engine's words come back as the turn's delta and transcript.
    let pcm = speak(&murmurd, SAID, "pcm").await;
    let file = work.path().join("speech.pcm");
    std::fs::write(&file, &pcm).expect("write");
    let ws = murmurd.url("/v1").replacen("http://", "ws://", 1);
    let summary = run("sdk_realtime.py", &[&ws, &file.to_string_lossy()]).await;
    let events: Vec<Value> = summary["events"].as_array().expect("events").clone();
    eprintln!(
        "{}",
        serde_json::to_string_pretty(&events).unwrap_or_default()
    );
    assert!(of_type(&events, "error").is_empty(), "{events:?}");
    assert_eq!(events[0]["type"], "session.created");
    assert!(!of_type(&events, "input_audio_buffer.speech_started").is_empty());
    let committed = of_type(&events, "input_audio_buffer.committed");
    let completed = of_type(
        &events,
        "conversation.item.input_audio_transcription.completed",
    );
    assert!(!committed.is_empty(), "a turn: {events:?}");
    assert_eq!(completed.len(), committed.len(), "one transcript per turn");
    for done in &completed {
        assert_eq!(done["transcript"].as_str(), Some(words.as_str()), "{done}");
        let deltas: String = of_type(&events, "conversation.item.input_audio_transcription.delta")
            .iter()
            .filter(|d| d["item_id"] == done["item_id"])
            .filter_map(|d| d["delta"].as_str())
            .collect();
        assert_eq!(deltas, words, "the deltas add up to the transcript");
    }
    let families = prometheus(&murmurd).await;
    let turns = families
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|f| f["samples"].as_array().into_iter().flatten())
        .find(|s| s["name"] == "murmur_live_turns_total")
        .and_then(|s| s["value"].as_f64());
    assert_eq!(turns, Some(committed.len() as f64), "{families}");

    let log = murmurd.engine_log();
    assert!(
        !log.contains("murmur-test: blocked"),
        "no network beyond loopback:\n{log}"
    );
}
