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

use std::path::Path;
use std::time::Duration;

use murmur_tests::hub::Hub;
use murmur_tests::listening::{speak, transcribe};
use murmur_tests::live::run;
use murmur_tests::mlx::{WHEEL, pin, resources_for, start_source};
use murmur_tests::murmurd::{Launch, source_tree};
use murmur_tests::piper::PIPER;
use murmur_tests::tools::{prometheus, whisper_tiny_en};
use murmur_tests::{Murmurd, supervised::ready};
use serde_json::Value;

const REPO: &str = "murmur-test/whisper-noise";
const SAID: &str = "The library opens early in the morning and closes late in the evening.";

fn run_fixture(python: &Path, args: &[&Path]) -> Value {
    let out = std::process::Command::new(python)
        .args(args)
        .output()
        .expect("run a fixture");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = out
        .stdout
        .split(|&b| b == b'\n')
        .rfind(|l| !l.is_empty())
        .expect("a summary")
        .to_vec();
    serde_json::from_slice(&last).expect("json")
}

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
    let (asset_url, asset_source) = start_source().await;
    let hub = Hub::start().await;
    let resources = resources_for(&["mlx-audio", "piper"]);
    let hf_home = tempfile::tempdir().expect("tmp");
    let config = format!(
        "{PIPER}spacy_models_url = {asset_url:?}\nhuggingface_url = {hub:?}\n\n\
         [transcription]\nengine = \"mlx-audio\"\nmodel = {REPO:?}\n\n\
         [supervisor]\nrestart_on_crash = false\nstartup_timeout_secs = 300\n",
        hub = hub.url,
    );
    let mut launch = Launch::with_config(&config);
    launch.env.push((
        "MURMUR_RESOURCES".into(),
        resources.path().display().to_string(),
    ));
    launch
        .env
        .push(("HF_HOME".into(), hf_home.path().display().to_string()));
    let murmurd = Murmurd::launch(launch).unwrap_or_else(|(s, e)| panic!("{s}: {e}"));
    ready(&murmurd, Duration::from_secs(300)).await;

    // The first start builds the environment and stops at the asset its source lacks; the
    // environment's Python then builds the stand-ins.
    murmurd
        .control_post("/murmur/api/engines/transcription/start")
        .await;
    let failed = settled(&murmurd, "the missing asset").await;
    assert_eq!(failed["state"], "failed", "{failed:#}");
    let runtime = murmurd.data_dir().join("runtimes/mlx-audio");
    let python = runtime.join(".venv/bin/python");
    let project = resources.path().join("python-runtime/mlx-audio");
    let fixtures = source_tree().join("tests/fixtures/mlx");
    let work = tempfile::tempdir().expect("tmp");
    let built = run_fixture(
        &python,
        &[&fixtures.join("make_spacy_model.py"), work.path()],
    );
    let wheel = built["wheel"].as_str().expect("path");
    asset_source
        .lock()
        .expect("served")
        .files
        .insert(WHEEL.into(), std::fs::read(wheel).expect("wheel"));
    pin(resources.path(), built["sha256"].as_str().expect("sha"));
    let model = work.path().join("model");
    let tokenizer = whisper_tiny_en().await.join("tokenizer.json");
    let made = run_fixture(
        &python,
        &[&fixtures.join("make_whisper_model.py"), &model, &tokenizer],
    );
    let words = made["text"]
        .as_str()
        .expect("the model's words")
        .to_string();
    assert!(!words.is_empty(), "{made}");
    hub.put_dir(REPO, &model);
    std::fs::copy(
        fixtures.join("cpu_only/sitecustomize.py"),
        project.join("sitecustomize.py"),
    )
    .expect("copy sitecustomize");

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
        hub.requests()
            .iter()
            .any(|r| r.contains(REPO) && r.ends_with("/model.safetensors")),
        "{:?}",
        hub.requests()
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
