//! Support for the tests of the engines that fetch files (MLX Audio, Kokoro): a copy of a
//! shipped engine project the test can pin its own stand-ins in, a loopback stand-in for a
//! release page (files by path, `Range` honoured and recorded, a connection that can drop
//! once), and waiting for a start to fail.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::Murmurd;
use crate::murmurd::source_tree;
use crate::supervised::state;

pub const WHEEL: &str = "en_core_web_sm-3.8.0/en_core_web_sm-3.8.0-py3-none-any.whl";

/// Files by path, and the `Range` headers asked for.
#[derive(Default)]
pub struct Served {
    pub files: HashMap<String, Vec<u8>>,
    pub ranges: Vec<String>,
    /// Cut the next whole-file answer off after this many bytes (a dropped connection).
    pub cut_once_at: Option<usize>,
}

pub type Source = Arc<Mutex<Served>>;

async fn serve(
    State(source): State<Source>,
    UrlPath(path): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let mut served = source.lock().expect("served");
    let Some(file) = served.files.get(&path).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let from = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.strip_suffix('-'))
        .and_then(|v| v.parse::<usize>().ok());
    match from {
        Some(from) if from < file.len() => {
            served.ranges.push(format!("bytes={from}-"));
            let range = format!("bytes {from}-{}/{}", file.len() - 1, file.len());
            (
                StatusCode::PARTIAL_CONTENT,
                [(header::CONTENT_RANGE, range)],
                file[from..].to_vec(),
            )
                .into_response()
        }
        _ => match served.cut_once_at.take() {
            Some(at) => {
                // The length says the whole file; the connection drops after `at` bytes.
                let head = axum::body::Bytes::from(file[..at.min(file.len())].to_vec());
                let pieces = futures_util::stream::iter([
                    Ok(head),
                    Err(std::io::Error::other("connection dropped (test)")),
                ]);
                Response::builder()
                    .header(header::CONTENT_LENGTH, file.len())
                    .body(axum::body::Body::from_stream(pieces))
                    .expect("response")
            }
            None => file.into_response(),
        },
    }
}

pub async fn start_source() -> (String, Source) {
    let source = Source::default();
    let app = axum::Router::new()
        .route("/files/{*path}", axum::routing::get(serve))
        .with_state(source.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/files", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, source)
}

/// A copy of the shipped engine project (and the launcher), so a test can pin its own
/// stand-ins and add files; point `MURMUR_RESOURCES` at it.
pub fn resources() -> tempfile::TempDir {
    resources_of("mlx-audio")
}

/// A copy of the shipped project `python-runtime/<engine>`, the launcher and the code the
/// engine servers share.
pub fn resources_of(engine: &str) -> tempfile::TempDir {
    resources_for(&[engine])
}

/// A copy of the shipped projects of `engines`, the launcher and the code the engine servers
/// share.
pub fn resources_for(engines: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    let from = source_tree().join("python-runtime");
    let to = dir.path().join("python-runtime");
    std::fs::copy(from.join("murmur_launch.py"), {
        std::fs::create_dir_all(&to).expect("mkdir");
        to.join("murmur_launch.py")
    })
    .expect("copy");
    for &folder in engines.iter().chain(&["shared"]) {
        std::fs::create_dir_all(to.join(folder)).expect("mkdir");
        for entry in std::fs::read_dir(from.join(folder)).expect("list") {
            let path = entry.expect("entry").path();
            if path.is_file() {
                std::fs::copy(&path, to.join(folder).join(path.file_name().expect("name")))
                    .expect("copy");
            }
        }
    }
    dir
}

/// Pin `sha256` as the spaCy model's digest in the copy's `assets.toml` (MLX Audio's).
pub fn pin(resources: &Path, sha256: &str) {
    pin_in(resources, "mlx-audio", sha256);
}

/// Pin `sha256` as the spaCy model's digest in the copy of `python-runtime/<engine>`.
pub fn pin_in(resources: &Path, engine: &str, sha256: &str) {
    let manifest = resources.join(format!("python-runtime/{engine}/assets.toml"));
    let text = std::fs::read_to_string(&manifest).expect("read");
    let shipped = text
        .lines()
        .find_map(|l| l.strip_prefix("sha256 = \""))
        .map(|l| l.trim_end_matches('"').to_string())
        .expect("a pinned sha256");
    std::fs::write(&manifest, text.replace(&shipped, sha256)).expect("write");
}

/// Wait for the start to end; it must have failed (the status is returned).
pub async fn failure(murmurd: &Murmurd, why: &str) -> serde_json::Value {
    let status = murmurd
        .wait_for(why, Duration::from_secs(900), |s| {
            state(s) == "failed" || state(s) == "ready"
        })
        .await;
    assert_eq!(
        state(&status),
        "failed",
        "{status:#}\n{}",
        murmurd.engine_log()
    );
    status
}

/// What an MLX test stands on: a Hub stand-in, a source for the English front end's asset, a
/// copy of the engine projects Murmur provisions from, and an empty Hugging Face cache.
pub struct MlxStage {
    pub hub: crate::hub::Hub,
    pub asset_url: String,
    pub assets: Source,
    /// Point `MURMUR_RESOURCES` here ([`MlxStage::launch`] does).
    pub resources: tempfile::TempDir,
    hf_home: tempfile::TempDir,
}

impl MlxStage {
    /// The stand-ins, and a copy of the projects of `engines` (MLX Audio's among them).
    pub async fn new(engines: &[&str]) -> Self {
        let (asset_url, assets) = start_source().await;
        Self {
            hub: crate::hub::Hub::start().await,
            asset_url,
            assets,
            resources: resources_for(engines),
            hf_home: tempfile::tempdir().expect("tmp"),
        }
    }

    /// The `[runtime]` keys that point Murmur at the stand-ins (managed Pythons from a
    /// refusing address, so every machine takes the system-Python path).
    pub fn runtime_keys(&self) -> String {
        format!(
            "python_install_mirror = \"http://127.0.0.1:9/python\"\nspacy_models_url = {:?}\n\
             huggingface_url = {:?}\n",
            self.asset_url, self.hub.url
        )
    }

    /// A murmurd on `config`, with the copied projects and the empty cache.
    pub fn launch(&self, config: &str) -> Murmurd {
        let mut launch = crate::murmurd::Launch::with_config(config);
        launch.env.push((
            "MURMUR_RESOURCES".into(),
            self.resources.path().display().to_string(),
        ));
        launch
            .env
            .push(("HF_HOME".into(), self.hf_home.path().display().to_string()));
        Murmurd::launch(launch).unwrap_or_else(|(s, e)| panic!("{s}: {e}"))
    }

    /// With the provisioned environment's `python`: build the front end's asset in `work`,
    /// serve it and pin its digest, and make the engine CPU-only and loopback-only (the
    /// test-only `sitecustomize`).
    pub fn provide_front_end(&self, python: &Path, work: &Path) {
        let fixtures = source_tree().join("tests/fixtures/mlx");
        let built = run_fixture(python, &[&fixtures.join("make_spacy_model.py"), work]);
        let wheel = built["wheel"].as_str().expect("path");
        self.assets
            .lock()
            .expect("served")
            .files
            .insert(WHEEL.into(), std::fs::read(wheel).expect("wheel"));
        pin(
            self.resources.path(),
            built["sha256"].as_str().expect("sha"),
        );
        std::fs::copy(
            fixtures.join("cpu_only/sitecustomize.py"),
            self.resources
                .path()
                .join("python-runtime/mlx-audio/sitecustomize.py"),
        )
        .expect("copy sitecustomize");
    }
}

/// Run a fixture script with `python`; the last line it printed, as JSON.
pub fn run_fixture(python: &Path, args: &[&Path]) -> serde_json::Value {
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
        .expect("a summary");
    serde_json::from_slice(last).expect("json")
}
