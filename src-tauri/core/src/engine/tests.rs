use super::*;

fn runtime() -> Runtime {
    Runtime {
        python: PathBuf::from("/data/runtimes/x/.venv/bin/python"),
        dir: PathBuf::from("/data/runtimes/x"),
        fast_path: true,
        note: None,
    }
}

fn launch_for(id: EngineId) -> Launch {
    let mut settings = Settings::default();
    settings.engine.id = id;
    launch(
        &settings,
        "127.0.0.1",
        4321,
        Path::new("/data"),
        Some(&runtime()),
    )
    .expect("launchable")
}

#[test]
fn mlx_audio_runs_its_server_under_the_launcher_with_a_full_path() {
    let launch = launch_for(EngineId::MlxAudio);
    assert_eq!(launch.program, "/data/runtimes/x/.venv/bin/python");
    assert_eq!(
        launch.args,
        [
            "-m",
            "murmur_launch",
            "mlx_audio.server",
            "--host",
            "127.0.0.1",
            "--port",
            "4321",
            "--log-dir",
            "/data/logs"
        ]
    );
    assert!(launch.stdin_guard);
    let path = &launch.env["PATH"];
    assert!(path.split(':').any(|d| d == "/opt/homebrew/bin"), "{path}");
    assert!(launch.env["PYTHONPATH"].starts_with("/data/runtimes/x:"));
    let entries: Vec<&str> = launch.env["PYTHONPATH"].split(':').collect();
    assert!(
        entries[1].ends_with("python-runtime/mlx-audio"),
        "{entries:?}"
    );
    assert!(entries[2].ends_with("python-runtime/shared"), "{entries:?}");
    assert!(
        Path::new(entries[2]).join("murmur_speech.py").is_file(),
        "{entries:?}"
    );
}

#[test]
fn kokoro_runs_murmurs_server_with_its_model_and_voices_folder() {
    let launch = launch_for(EngineId::Kokoro);
    assert_eq!(
        &launch.args[..3],
        ["-m", "murmur_launch", "murmur_kokoro_server"]
    );
    let value = |flag: &str| {
        let at = launch.args.iter().position(|a| a == flag).expect(flag);
        launch.args[at + 1].clone()
    };
    assert_eq!(
        value("--model"),
        "/data/models/kokoro/kokoro-v1.0.int8.onnx"
    );
    assert_eq!(value("--voices-dir"), "/data/voices/kokoro");
    let mut settings = Settings::default();
    settings.engine.id = EngineId::Kokoro;
    settings.engine.kokoro.model = crate::config::KokoroModel::Fp32;
    assert_eq!(kokoro::model_file(&settings).name, "kokoro-v1.0.onnx");
    assert_eq!(audio(&settings), EngineAudio::Pcm { rate: 24_000 });
}

#[test]
fn mlx_audio_streams_kokoro_as_24_khz_pcm_and_other_models_as_wav() {
    let mut settings = Settings::default();
    settings.engine.id = EngineId::MlxAudio;
    assert_eq!(audio(&settings), EngineAudio::Pcm { rate: 24_000 });
    assert!(asks_to_stream(&settings));
    settings.engine.model = Some("/models/my-Kokoro-82M-4bit".into());
    assert_eq!(audio(&settings), EngineAudio::Pcm { rate: 24_000 });
    settings.engine.model = Some("mlx-community/csm-1b".into());
    assert_eq!(audio(&settings), EngineAudio::Wav);
    settings.engine.id = EngineId::Piper;
    assert!(!asks_to_stream(&settings));
}

#[test]
fn piper_runs_murmurs_server() {
    let launch = launch_for(EngineId::Piper);
    assert_eq!(
        &launch.args[..3],
        ["-m", "murmur_launch", "murmur_piper_server"]
    );
    assert!(launch.args.windows(2).any(|w| w == ["--port", "4321"]));
    assert_eq!(launch.probe_path, "/v1/models");
    assert_eq!(
        launch.env["MALLOC_MMAP_THRESHOLD_"], "131072",
        "memory that settles"
    );
    assert_eq!(launch.env["MALLOC_ARENA_MAX"], "2");
}

#[test]
fn python_engines_need_their_runtime() {
    let settings = Settings::default();
    assert_eq!(
        launch(&settings, "127.0.0.1", 1, Path::new("/d"), None),
        None
    );
}

#[test]
fn custom_python_commands_get_the_interpreter_and_the_launcher() {
    let mut settings = Settings::default();
    settings.engine.id = EngineId::Custom;
    settings.engine.custom.command = ["{python}", "-m", "srv", "--port", "{port}"]
        .map(String::from)
        .to_vec();
    settings.engine.custom.python_project = Some(PathBuf::from("/proj"));
    let launch =
        launch(&settings, "127.0.0.1", 9, Path::new("/d"), Some(&runtime())).expect("launchable");
    assert_eq!(launch.program, "/data/runtimes/x/.venv/bin/python");
    assert_eq!(launch.args, ["-m", "murmur_launch", "srv", "--port", "9"]);
    assert_eq!(launch.env["PYTHONPATH"], "/data/runtimes/x:/proj");
}

#[test]
fn the_bundled_projects_are_found() {
    let mut settings = Settings::default();
    for (id, name) in [
        (EngineId::Piper, "piper"),
        (EngineId::MlxAudio, "mlx-audio"),
        (EngineId::Kokoro, "kokoro"),
    ] {
        settings.engine.id = id;
        let (dir, runtime) = python_project(&settings).expect("a Python engine");
        assert!(dir.join("uv.lock").is_file(), "{}", dir.display());
        assert_eq!(runtime, name);
    }
}
