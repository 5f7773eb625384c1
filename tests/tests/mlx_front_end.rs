//! The MLX Audio engine's first use, up to its front ends: the real `murmurd` provisions the
//! real locked environment (uv against PyPI; on Linux, MLX's CPU build), fetches the English
//! front end's spaCy model from a loopback stand-in for its release page (byte progress,
//! sha256, resume, refusal of a corrupted file), and then mlx-audio's Kokoro front ends turn
//! English, Mandarin and Japanese into phonemes in that environment with the network and
//! subprocesses blocked: nothing is downloaded after warm-up.
//!
//! The spaCy model is a stand-in built by `tests/fixtures/mlx/make_spacy_model.py`
//! (same name, version and layout; poor tags); the test pins its sha256 in a copy of the
//! engine's `assets.toml`. What this cannot show here: speech from the model on a Mac's GPU.

use std::path::Path;
use std::time::Duration;

use murmur_tests::Murmurd;
use murmur_tests::mlx::{WHEEL, failure, pin, resources, start_source};
use murmur_tests::murmurd::{Launch, source_tree};
use murmur_tests::supervised::state;

fn run_front_end(python: &Path, python_path: &str) -> std::process::Output {
    std::process::Command::new(python)
        .arg(source_tree().join("tests/fixtures/mlx/front_end.py"))
        .env("PYTHONPATH", python_path)
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .expect("run the front ends")
}

#[tokio::test]
async fn the_mlx_front_ends_speak_three_languages_offline_after_warm_up() {
    let (url, source) = start_source().await;
    let resources = resources();
    let model = tempfile::tempdir().expect("a local model folder: nothing to fetch");
    let config = format!(
        "[engine]\nid = \"mlx-audio\"\nmodel = {model:?}\n\n[runtime]\n\
         python_install_mirror = \"http://127.0.0.1:9/python\"\nspacy_models_url = {url:?}\n\n\
         [supervisor]\nrestart_on_crash = false\nstartup_timeout_secs = 30\n",
        model = model.path().display().to_string(),
    );
    let mut launch = Launch::with_config(&config);
    launch.env.push((
        "MURMUR_RESOURCES".into(),
        resources.path().display().to_string(),
    ));
    let murmurd = Murmurd::launch(launch).unwrap_or_else(|(s, e)| panic!("{s}: {e}"));

    // 1. The environment syncs; the model's source has nothing: a warm-up error that names
    // the setting, not a wedged engine.
    let status = failure(&murmurd, "the missing asset").await;
    let message = status["error"].to_string();
    assert!(message.contains("en_core_web_sm"), "{message}");
    assert!(message.contains("runtime.spacy_models_url"), "{message}");
    let runtime = murmurd.data_dir().join("runtimes/mlx-audio");
    let python = runtime.join(".venv/bin/python");
    assert!(python.is_file(), "the environment was built");

    // 2. A stand-in for the real wheel, built with the spaCy of that environment.
    let built = std::process::Command::new(&python)
        .arg(source_tree().join("tests/fixtures/mlx/make_spacy_model.py"))
        .arg(model.path())
        .output()
        .expect("build the spaCy stand-in");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let built: serde_json::Value = serde_json::from_slice(&built.stdout).expect("json");
    let wheel = std::fs::read(built["wheel"].as_str().expect("path")).expect("wheel");
    let sha256 = built["sha256"].as_str().expect("sha").to_string();
    std::fs::remove_file(built["wheel"].as_str().expect("path")).expect("rm");
    pin(resources.path(), &sha256);
    let installed = murmurd
        .data_dir()
        .join("assets")
        .join(format!("en_core_web_sm-{}", &sha256[..12]));

    // 3. A corrupted copy is refused, and nothing of it is kept.
    let mut corrupted = wheel.clone();
    let middle = corrupted.len() / 2;
    corrupted[middle] ^= 0xff;
    source
        .lock()
        .expect("served")
        .files
        .insert(WHEEL.into(), corrupted);
    murmurd
        .control_post("/murmur/api/engines/speech/restart")
        .await;
    let status = failure(&murmurd, "the corrupted asset").await;
    let message = status["error"].to_string();
    assert!(message.contains("does not match its sha256"), "{message}");
    assert!(!installed.exists(), "nothing half-installed");
    let partial = murmurd
        .data_dir()
        .join("assets/downloads/en_core_web_sm-3.8.0-py3-none-any.whl.part");
    assert!(!partial.exists(), "the bad download was discarded");

    // 4. The real file, after an interrupted download: the rest is fetched with a Range
    // request, checked, and unpacked. The server then starts; with an empty model folder it
    // cannot speak, so it is not called ready (the start ends with that error); the front
    // ends are what this test is about.
    std::fs::write(&partial, &wheel[..middle]).expect("half a download");
    source
        .lock()
        .expect("served")
        .files
        .insert(WHEEL.into(), wheel.clone());
    murmurd
        .control_post("/murmur/api/engines/speech/restart")
        .await;
    murmurd
        .wait_for("the server starting", Duration::from_secs(300), |s| {
            state(s) == "starting" || state(s) == "failed"
        })
        .await;
    let status = murmurd
        .wait_for("the start to end", Duration::from_secs(120), |s| {
            state(s) == "failed"
                || state(s) == "ready"
                || (state(s) == "stopped" && s["error"].is_object())
        })
        .await;
    assert_ne!(state(&status), "ready", "{status:#}");
    assert!(
        installed.join("en_core_web_sm/__init__.py").is_file(),
        "{status:#}"
    );
    assert_eq!(
        source.lock().expect("served").ranges,
        [format!("bytes={middle}-")],
        "resumed where the download stopped"
    );
    assert!(!partial.exists());
    let message = status["error"].to_string();
    assert!(
        message.contains("could not speak"),
        "ready means it spoke: {message}"
    );

    // 5. The front ends, offline, with the PYTHONPATH Murmur gives the engine.
    let project = resources.path().join("python-runtime/mlx-audio");
    let with_asset = format!(
        "{}:{}:{}",
        runtime.display(),
        project.display(),
        installed.display()
    );
    let out = run_front_end(&python, &with_asset);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The libraries print notices of their own; the result is the last line.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let phonemes: serde_json::Value =
        serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let english = phonemes["a"].as_str().unwrap_or_default();
    assert!(english.contains("wˈɜɹld"), "English: {english:?}");
    let mandarin = phonemes["z"].as_str().unwrap_or_default();
    assert!(
        mandarin.contains('↓') && mandarin.contains("xau"),
        "Mandarin: {mandarin:?}"
    );
    let japanese = phonemes["j"].as_str().unwrap_or_default();
    assert!(japanese.contains("sekai"), "Japanese: {japanese:?}");

    // Without the asset, English reaches for the network (blocked here): the asset is what
    // makes the first English sentence work.
    let without = format!("{}:{}", runtime.display(), project.display());
    let out = run_front_end(&python, &without);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("blocked"), "{stderr}");
}
