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

/// The command for the configured engine on `host:port`, its bundled project found in the
/// source tree.
fn launch(
    settings: &Settings,
    host: &str,
    port: u16,
    data_dir: &Path,
    runtime: Option<&Runtime>,
) -> Option<Launch> {
    let engine = of(settings.engine.id);
    let project = engine.python_project(settings).map(|p| p.locate(None).0);
    let place = Place {
        host,
        port,
        data_dir,
        runtime,
        project: project.as_deref(),
    };
    engine.launch(settings, &place)
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
            "/data/logs",
            "--allowed-origins",
            "https://no-origin.invalid"
        ]
    );
    assert_eq!(
        launch.env["MLX_AUDIO_ALLOWED_ORIGINS"],
        "https://no-origin.invalid"
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
        let project = of(settings.engine.id).python_project(&settings);
        let (dir, runtime) = project.expect("a Python engine").locate(None);
        assert!(dir.join("uv.lock").is_file(), "{}", dir.display());
        assert_eq!(runtime, name);
    }
}

#[test]
fn listening_on_mlx_audio_is_a_server_of_its_own_asked_openai_s_way() {
    let mut settings = Settings::default();
    settings.transcription.engine = TranscriptionEngineId::MlxAudio;
    let engine = transcription_engine(settings.transcription.engine);
    assert_eq!(engine.spec().id, "mlx-audio");
    assert_eq!(engine.transcribes_with(), Transcribes::OpenAi);
    assert_eq!(
        Capability::Transcription.model(&settings).as_deref(),
        Some("mlx-community/whisper-large-v3-turbo")
    );
    assert_eq!(
        engine.python_project(&settings),
        Some(Project::Bundled("mlx-audio"))
    );
    let (project, _) = Project::Bundled("mlx-audio").locate(None);
    let place = Place {
        host: "127.0.0.1",
        port: 4322,
        data_dir: Path::new("/data"),
        runtime: Some(&runtime()),
        project: Some(&project),
    };
    let launch = engine.launch(&settings, &place).expect("launchable");
    assert_eq!(
        &launch.args[..3],
        ["-m", "murmur_launch", "mlx_audio.server"]
    );
    assert!(launch.args.contains(&"4322".to_string()));
    // Its model is fetched in warm-up: the server never downloads behind the user's back.
    assert_eq!(launch.env["HF_HUB_OFFLINE"], "1");
    assert_eq!(
        engine.served_paths(),
        Some(&["/v1/audio/transcriptions", "/v1/models"][..])
    );
    assert_eq!(engine.memory_estimate_mb(&settings), Some(1800));
    // Nothing of it is asked to speak before it is called ready.
    assert_eq!(Capability::Transcription.first_words(&settings), None);

    // Whisper is Murmur's own route; custom servers are OpenAI's.
    settings.transcription.engine = TranscriptionEngineId::Whisper;
    let whisper = transcription_engine(settings.transcription.engine);
    assert_eq!(whisper.transcribes_with(), Transcribes::MurmurPcm);
    assert_eq!(
        Capability::Transcription.model(&settings).as_deref(),
        Some("base")
    );
    settings.transcription.engine = TranscriptionEngineId::Custom;
    settings.transcription.custom.command =
        vec!["stt-server".into(), "--port".into(), "{port}".into()];
    let custom = transcription_engine(settings.transcription.engine);
    assert_eq!(custom.transcribes_with(), Transcribes::OpenAi);
    let launch = custom.launch(&settings, &place).expect("launchable");
    assert_eq!(
        (launch.program.as_str(), &launch.args[..]),
        (
            "stt-server",
            &["--port".to_string(), "4322".to_string()][..]
        )
    );
    // Speech's custom server is its own section's.
    settings.engine.id = EngineId::Custom;
    settings.engine.custom.command = vec!["tts-server".into()];
    let speech = Capability::Speech.engine(&settings);
    let launch = speech.launch(&settings, &place).expect("launchable");
    assert_eq!(launch.program, "tts-server");
}
