//! The MLX Audio engine end to end on Linux: the real `murmurd` provisions the real locked
//! environment (MLX's CPU build), fetches the English front end's asset and then the model
//! from a loopback stand-in for the Hugging Face Hub (through `murmur_fetch_model` and
//! `huggingface_hub`, with byte progress), starts the real `mlx_audio.server` under its
//! supervisor, hears it speak before calling it ready, and English, Mandarin and Japanese
//! requests through Murmur each come back as audio in the voice of their language.
//!
//! The model is Kokoro-shaped with random weights (`tests/fixtures/mlx/make_kokoro_model.py`):
//! the audio is noise; the plumbing is real. A test-only `sitecustomize`
//! (`tests/fixtures/mlx/cpu_only`) maps mlx-audio's GPU stream to the CPU and refuses any
//! connection beyond loopback. What this cannot show: the real model on a Mac's GPU.

use std::path::Path;
use std::time::Duration;

use http::Method;
use http_body_util::BodyExt;
use murmur_tests::client::request;
use murmur_tests::hub::Hub;
use murmur_tests::mlx::{MlxStage, failure, run_fixture};
use murmur_tests::murmurd::source_tree;
use murmur_tests::supervised::{collect_events, ready, warmup_progress};
use murmur_tests::tools::decode;
use murmur_tests::{Client, Murmurd};
use serde_json::Value;

const REPO: &str = "murmur-test/Kokoro-82M-noise";
const VOICES: [&str; 3] = ["af_heart", "zf_xiaobei", "jf_alpha"];

/// The fetcher's lines, run by hand against the stand-in into an empty cache: whole JSON
/// lines, `done` never falling and never past `total`, ending at `total`.
fn check_fetcher_progress(python: &Path, project: &Path, runtime: &Path, hub: &Hub) {
    let cache = tempfile::tempdir().expect("tmp");
    let out = std::process::Command::new(python)
        .args(["-m", "murmur_fetch_model", REPO])
        .env(
            "PYTHONPATH",
            format!("{}:{}", runtime.display(), project.display()),
        )
        .env("HF_ENDPOINT", &hub.url)
        .env("HF_HOME", cache.path())
        .output()
        .expect("run the fetcher");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a whole line ({e}): {l}")))
        .collect();
    let total = hub.size(REPO);
    let progress: Vec<(u64, u64)> = lines
        .iter()
        .filter_map(|l| Some((l["done"].as_u64()?, l["total"].as_u64()?)))
        .collect();
    assert!(
        progress.len() > 3,
        "byte progress while downloading: {stdout}"
    );
    assert!(progress.iter().all(|&(_, t)| t == total), "{progress:?}");
    assert!(
        progress.windows(2).all(|w| w[0].0 <= w[1].0),
        "never falls: {progress:?}"
    );
    assert_eq!(
        progress.last().map(|p| p.0),
        Some(total),
        "ends at the total"
    );
    assert!(
        lines.last().is_some_and(|l| l["ready"].is_string()),
        "{stdout}"
    );
}

async fn speak(murmurd: &Murmurd, text: &str, format: &str) -> (String, Vec<u8>) {
    let body = serde_json::json!({ "model": "tts-1", "input": text, "voice": "alloy", "response_format": format });
    let mut req = request(
        Method::POST,
        &murmurd.url("/v1/audio/speech"),
        body.to_string(),
    );
    req.headers_mut().insert(
        http::header::CONTENT_TYPE,
        "application/json".parse().expect("header"),
    );
    let response = Client::new().send(req).await;
    let status = response.status();
    let voice = response
        .headers()
        .get("x-murmur-voice")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(
        status,
        200,
        "{text}: {}\n{}",
        String::from_utf8_lossy(&bytes),
        murmurd.engine_log()
    );
    (voice, bytes.to_vec())
}

// Several threads: the stand-ins keep serving while the test waits on a fixture's process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mlx_engine_fetches_its_model_from_the_hub_and_speaks_three_languages() {
    let stage = MlxStage::new(&["mlx-audio"]).await;
    let hub = &stage.hub;
    let murmurd = stage.launch(&format!(
        "[engine]\nid = \"mlx-audio\"\nmodel = {REPO:?}\n\n[runtime]\n{keys}\n\
         [supervisor]\nrestart_on_crash = false\nstartup_timeout_secs = 300\n",
        keys = stage.runtime_keys(),
    ));

    // The environment is built; the asset's source is still empty, so the start fails there
    // (the front-end test covers that step); the environment's Python builds the stand-ins.
    failure(&murmurd, "the missing asset").await;
    let runtime = murmurd.data_dir().join("runtimes/mlx-audio");
    let python = runtime.join(".venv/bin/python");
    let project = stage.resources.path().join("python-runtime/mlx-audio");
    let work = tempfile::tempdir().expect("tmp");
    stage.provide_front_end(&python, work.path());
    let model = work.path().join("model");
    let maker = source_tree().join("tests/fixtures/mlx/make_kokoro_model.py");
    let mut args: Vec<&Path> = vec![&maker, &model];
    args.extend(VOICES.iter().map(Path::new));
    let made = run_fixture(&python, &args);
    assert_eq!(made["sample_rate"], 24000);
    hub.put_dir(REPO, &model);

    // The fetcher on its own: its lines are what the warm-up shows.
    check_fetcher_progress(&python, &project, &runtime, hub);

    // Murmur fetches the model (slowly served, so progress shows), starts the server and
    // hears it speak before calling it ready.
    hub.set_piece_delay(Duration::from_millis(10));
    let events = collect_events(&murmurd);
    murmurd
        .control_post("/murmur/api/engines/speech/restart")
        .await;
    ready(&murmurd, Duration::from_secs(600)).await;
    let total = hub.size(REPO);
    let progress = warmup_progress(&events, "model");
    assert!(
        progress.len() > 3,
        "the model's download was shown: {progress:?}"
    );
    assert!(
        progress.iter().all(|&(d, t)| t == total && d <= t),
        "{progress:?}"
    );
    assert!(
        progress.windows(2).all(|w| w[0].0 <= w[1].0),
        "never falls: {progress:?}"
    );
    let log = murmurd.engine_log();
    assert!(log.contains("mlx_audio.server"), "{log}");
    let fetched = hub.requests().len();

    // Three languages, three formats; the voice follows the text's language.
    for (text, format, voice) in [
        ("Hello there.", "mp3", "af_heart"),
        ("你好。", "wav", "zf_xiaobei"),
        ("こんにちは。", "opus", "jf_alpha"),
    ] {
        let (chosen, audio) = speak(&murmurd, text, format).await;
        assert_eq!(chosen, voice, "{text}");
        let decoded = decode(&audio, format).await;
        assert!(decoded.seconds > 0.0, "{text}: {decoded:?}");
        assert!(decoded.rms > 0.0, "noise, not silence: {decoded:?}");
        if format == "wav" {
            assert_eq!(decoded.rate, 24_000, "Kokoro's rate, as PCM");
        }
    }
    let log = murmurd.engine_log();
    for code in ["a", "z", "j"] {
        assert!(
            log.contains(&format!("KokoroPipeline for language: {code}")),
            "lang_code {code} reached the engine:\n{log}"
        );
    }
    assert!(
        !log.contains("murmur-test: blocked"),
        "no network beyond loopback:\n{log}"
    );
    assert_eq!(
        hub.requests().len(),
        fetched,
        "the engine runs with the Hub offline: {:?}",
        &hub.requests()[fetched..]
    );

    // Around Murmur's guards: a web page cannot drive the engine on its own port (its CORS
    // allows no origin), and through Murmur only what Murmur asks of it is reachable.
    let status = murmurd.status().await;
    let port = status["engine"]["port"].as_u64().expect("port");
    let mut preflight = request(
        Method::OPTIONS,
        &format!("http://127.0.0.1:{port}/v1/audio/speech"),
        "",
    );
    let headers = preflight.headers_mut();
    headers.insert("origin", "http://evil.example".parse().expect("header"));
    headers.insert(
        "access-control-request-method",
        "POST".parse().expect("header"),
    );
    let answer = Client::new().exchange(preflight).await;
    assert!(
        answer.header("access-control-allow-origin").is_none() && answer.status != 200,
        "the engine's own port allowed a page: {} {:?}",
        answer.status,
        answer.headers
    );
    let load = Client::new()
        .exchange(request(
            Method::POST,
            &murmurd.url("/v1/models?model_name=mlx-community/Kokoro-82M-bf16"),
            "",
        ))
        .await;
    assert!(
        matches!(load.status.as_u16(), 404 | 405),
        "POST /v1/models reached the engine: {}",
        load.status
    );
    let docs = Client::new().get(&murmurd.url("/docs")).await;
    assert_eq!(
        docs.status, 404,
        "paths Murmur does not ask for are its own 404"
    );
    let other = Client::new()
        .post_json(
            &murmurd.url("/v1/audio/speech"),
            r#"{"input":"Hello.","model":"mlx-community/Kokoro-82M-bf16"}"#,
        )
        .await;
    assert_eq!(
        other.status,
        400,
        "{}",
        String::from_utf8_lossy(&other.body)
    );
    assert_eq!(other.error_code(), "model_not_available");
}
