//! A loopback stand-in for the Hugging Face Hub: the routes `huggingface_hub` uses to download
//! a public model repository, serving files the test puts in it.
//!
//! - `GET /api/models/{org}/{name}[/revision/{rev}]`: the repo's info (`sha`, `siblings`, with
//!   sizes and LFS metadata when `?blobs=true`);
//! - `GET /api/models/{org}/{name}/tree/{rev}[/{folder}]`: its files and folders (all of
//!   them, or those in `folder`), with sizes and LFS metadata (the sha256 as `lfs.oid`);
//! - `HEAD`/`GET /{org}/{name}/resolve/{rev}/{path}`: a file, with `X-Repo-Commit`, `ETag`
//!   and `Content-Length` as the Hub sends them; `Range: bytes=N-` honoured. Bodies are sent
//!   in 1 MiB pieces, `piece_delay` apart, so progress has something to show.
//!
//! Every request is recorded (method and path), so a test can show what was (not) fetched.
//! [`Hub::set_offline`] makes every route answer 503, as an unreachable Hub would fail.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, Method, StatusCode, header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const PIECE: usize = 1 << 20;

#[derive(Default)]
struct Repo {
    files: BTreeMap<String, File>,
}

/// A file and its sha256 (worked out once: hashing 100 MB in a debug build takes seconds).
struct File {
    data: Bytes,
    sha256: String,
}

#[derive(Default)]
struct Inner {
    repos: BTreeMap<String, Repo>,
    requests: Vec<String>,
    piece_delay: Duration,
    offline: bool,
}

#[derive(Clone)]
pub struct Hub {
    /// The endpoint, for `HF_ENDPOINT` (Murmur's `[runtime] huggingface_url`).
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

type Shared = Arc<Mutex<Inner>>;

impl Hub {
    pub async fn start() -> Self {
        let inner = Shared::default();
        let app = Router::new()
            .route("/api/models/{org}/{name}", get(info))
            .route("/api/models/{org}/{name}/revision/{rev}", get(info))
            .route("/api/models/{org}/{name}/tree/{rev}", get(tree))
            .route("/api/models/{org}/{name}/tree/{rev}/{*folder}", get(tree))
            .route("/{org}/{name}/resolve/{rev}/{*path}", get(resolve))
            .fallback(not_found)
            .layer(axum::middleware::from_fn_with_state(inner.clone(), record))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, inner }
    }

    /// Put a file (`path` inside the repo) into repo `id` (`org/name`).
    pub fn put(&self, id: &str, path: &str, content: Vec<u8>) {
        self.lock()
            .repos
            .entry(id.to_string())
            .or_default()
            .files
            .insert(
                path.to_string(),
                File {
                    sha256: sha256(&content),
                    data: Bytes::from(content),
                },
            );
    }

    /// Put every file under `dir` into repo `id`, at its path relative to `dir`.
    pub fn put_dir(&self, id: &str, dir: &std::path::Path) {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).expect("list") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push(path);
                }
            }
        }
        let mut files = Vec::new();
        walk(dir, &mut files);
        for file in files {
            let relative = file.strip_prefix(dir).expect("inside").to_string_lossy();
            self.put(id, &relative, std::fs::read(&file).expect("read"));
        }
    }

    /// Pause between 1 MiB pieces of a download.
    pub fn set_piece_delay(&self, delay: Duration) {
        self.lock().piece_delay = delay;
    }

    /// Answer every request with a 503 (or serve again).
    pub fn set_offline(&self, offline: bool) {
        self.lock().offline = offline;
    }

    /// The requests so far, as `METHOD /path?query`.
    pub fn requests(&self) -> Vec<String> {
        self.lock().requests.clone()
    }

    /// The total size of repo `id`'s files.
    pub fn size(&self, id: &str) -> u64 {
        self.lock()
            .repos
            .get(id)
            .map_or(0, |r| r.files.values().map(|f| f.data.len() as u64).sum())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("hub")
    }
}

async fn record(
    State(inner): State<Shared>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let line = format!(
        "{} {}",
        request.method(),
        request.uri().path_and_query().map_or("", |p| p.as_str())
    );
    let offline = {
        let mut inner = inner.lock().expect("hub");
        inner.requests.push(line);
        inner.offline
    };
    if offline {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the Hub is unreachable (test)",
        );
    }
    next.run(request).await
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "Entry not found")
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [("X-Error-Code", "EntryNotFound")],
        axum::Json(json!({ "error": message })),
    )
        .into_response()
}

fn sha256(data: &[u8]) -> String {
    format!("{:x}", Sha256::digest(data))
}

/// The repo's commit: a hash of its contents, so a changed file is a new revision.
fn commit(repo: &Repo) -> String {
    let mut hasher = Sha256::new();
    for (path, file) in &repo.files {
        hasher.update(path.as_bytes());
        hasher.update(file.sha256.as_bytes());
    }
    format!("{:x}", hasher.finalize())[..40].to_string()
}

/// A file's entry, as the tree listing and `siblings` describe it (every file as LFS: the
/// metadata `huggingface_hub` checks downloads against).
fn entry(path: &str, file: &File) -> Value {
    json!({
        "type": "file",
        "path": path,
        "size": file.data.len(),
        "oid": &file.sha256[..40],
        "lfs": { "oid": file.sha256, "size": file.data.len(), "pointerSize": 134 },
    })
}

async fn info(
    State(inner): State<Shared>,
    Path(params): Path<BTreeMap<String, String>>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let id = format!("{}/{}", params["org"], params["name"]);
    let inner = inner.lock().expect("hub");
    let Some(repo) = inner.repos.get(&id) else {
        return error(StatusCode::NOT_FOUND, "Repository not found");
    };
    let blobs = query.get("blobs").is_some_and(|b| b == "true");
    let siblings: Vec<Value> = repo
        .files
        .iter()
        .map(|(path, file)| {
            let mut sibling = json!({ "rfilename": path });
            if blobs {
                sibling["size"] = file.data.len().into();
                sibling["blobId"] = file.sha256[..40].into();
                sibling["lfs"] = json!({
                    "sha256": file.sha256,
                    "size": file.data.len(),
                    "pointerSize": 134,
                });
            }
            sibling
        })
        .collect();
    axum::Json(json!({
        "_id": &commit(repo)[..24],
        "id": id,
        "modelId": id,
        "sha": commit(repo),
        "private": false,
        "gated": false,
        "disabled": false,
        "downloads": 0,
        "likes": 0,
        "tags": [],
        "siblings": siblings,
    }))
    .into_response()
}

async fn tree(
    State(inner): State<Shared>,
    Path(params): Path<BTreeMap<String, String>>,
) -> Response {
    let id = format!("{}/{}", params["org"], params["name"]);
    let inner = inner.lock().expect("hub");
    let Some(repo) = inner.repos.get(&id) else {
        return error(StatusCode::NOT_FOUND, "Repository not found");
    };
    let within = |path: &str| match params.get("folder") {
        Some(folder) => path
            .strip_prefix(folder.as_str())
            .is_some_and(|rest| rest.starts_with('/')),
        None => true,
    };
    let folders: BTreeSet<&str> = repo
        .files
        .keys()
        .filter_map(|p| p.rsplit_once('/').map(|(dir, _)| dir))
        .filter(|dir| within(dir))
        .collect();
    let mut listing: Vec<Value> = folders
        .into_iter()
        .map(|dir| json!({ "type": "directory", "path": dir, "size": 0, "oid": &sha256(dir.as_bytes())[..40] }))
        .collect();
    listing.extend(
        repo.files
            .iter()
            .filter(|(path, _)| within(path))
            .map(|(path, file)| entry(path, file)),
    );
    axum::Json(listing).into_response()
}

async fn resolve(
    State(inner): State<Shared>,
    Path(params): Path<BTreeMap<String, String>>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let id = format!("{}/{}", params["org"], params["name"]);
    let (data, sha256, commit, delay) = {
        let inner = inner.lock().expect("hub");
        let Some(repo) = inner.repos.get(&id) else {
            return error(StatusCode::NOT_FOUND, "Repository not found");
        };
        let Some(file) = repo.files.get(&params["path"]) else {
            return error(StatusCode::NOT_FOUND, "Entry not found");
        };
        (
            file.data.clone(),
            file.sha256.clone(),
            commit(repo),
            inner.piece_delay,
        )
    };
    let from = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.split('-').next())
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&from| from < data.len());
    let mut response = Response::builder()
        .header("X-Repo-Commit", &commit)
        .header(header::ETAG, format!("\"{sha256}\""))
        .header(header::ACCEPT_RANGES, "bytes");
    let body = match from {
        Some(from) => {
            response = response.status(StatusCode::PARTIAL_CONTENT).header(
                header::CONTENT_RANGE,
                format!("bytes {from}-{}/{}", data.len() - 1, data.len()),
            );
            data.slice(from..)
        }
        None => data,
    };
    response = response.header(header::CONTENT_LENGTH, body.len());
    if method == Method::HEAD {
        return response.body(Body::empty()).expect("response");
    }
    let pieces = futures_util::stream::unfold(body, move |rest| async move {
        if rest.is_empty() {
            return None;
        }
        tokio::time::sleep(delay).await;
        let mut rest = rest;
        let piece = rest.split_to(rest.len().min(PIECE));
        Some((Ok::<_, std::io::Error>(piece), rest))
    });
    response.body(Body::from_stream(pieces)).expect("response")
}
