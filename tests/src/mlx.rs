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
