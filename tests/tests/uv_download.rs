//! Downloading uv from a loopback fake PyPI index: the failures the real one will not stage
//! on demand (an oversized wheel, a wrong sha256, a stalled download).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use futures_util::StreamExt;
use murmur_core::runtime::download::{PinnedWheel, UvPin};
use murmur_core::runtime::fetch::DownloadPolicy;
use murmur_core::runtime::{Progress, RuntimeError};
use sha2::{Digest, Sha256};

/// A fake PyPI JSON API on loopback serving one wheel; `stall_first` makes the first download
/// hang after a few bytes.
async fn fake_index(
    wheel: Vec<u8>,
    sha256: String,
    stall_first: bool,
) -> (String, Arc<AtomicUsize>) {
    let downloads = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let json = serde_json::json!({"urls": [{
        "filename": wheel_name(),
        "url": format!("{base}/wheel"),
        "digests": {"sha256": sha256},
    }]});
    let counter = downloads.clone();
    let app = Router::new()
        .route(
            "/pypi/uv/json",
            get(move || async move { axum::Json(json) }),
        )
        .route(
            "/wheel",
            get(move || {
                let wheel = wheel.clone();
                let n = counter.fetch_add(1, Ordering::SeqCst);
                async move {
                    if stall_first && n == 0 {
                        let head = wheel[..16].to_vec();
                        let stream =
                            futures_util::stream::once(
                                async move { Ok::<_, std::io::Error>(head) },
                            )
                            .chain(futures_util::stream::once(async {
                                tokio::time::sleep(Duration::from_secs(30)).await;
                                Ok(Vec::new())
                            }));
                        axum::response::Response::builder()
                            .header("content-length", wheel.len())
                            .body(Body::from_stream(stream))
                            .expect("response")
                    } else {
                        axum::response::Response::new(Body::from(wheel))
                    }
                }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("{base}/pypi"), downloads)
}

/// The fake wheel's name, for this machine.
fn wheel_name() -> String {
    let (os, arch) = match (std::env::consts::OS, std::env::consts::ARCH) {
        ("macos", "aarch64") => ("macosx_11_0", "arm64"),
        ("macos", _) => ("macosx_10_12", "x86_64"),
        (_, "aarch64") => ("manylinux_2_17", "aarch64"),
        _ => ("manylinux_2_17", "x86_64"),
    };
    format!("uv-9.9.9-py3-none-{os}_{arch}.whl")
}

/// Fetch uv from `index` pinned to `sha256` and `size`.
async fn download_pinned(
    index: &str,
    sha256: &str,
    size: u64,
    bin: &std::path::Path,
    policy: &DownloadPolicy,
) -> Result<PathBuf, RuntimeError> {
    let name = wheel_name();
    let wheels = [PinnedWheel {
        filename: &name,
        sha256,
        size,
    }];
    let pin = UvPin {
        version: "9.9.9",
        wheels: &wheels,
    };
    murmur_core::runtime::download::uv(index, &pin, bin, policy, &Progress::none()).await
}

fn small_wheel() -> Vec<u8> {
    let mut buffer = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut buffer);
    zip.start_file(
        "uv-9.9.9.data/scripts/uv",
        zip::write::SimpleFileOptions::default(),
    )
    .expect("entry");
    zip.write_all(b"#!/bin/sh\necho 'uv 9.9.9'\n")
        .expect("write");
    zip.finish().expect("finish");
    buffer.into_inner()
}

fn small_sha() -> String {
    hex(&Sha256::digest(small_wheel()))
}

/// A wheel longer than the pinned size is stopped at once (its announced length is enough)
/// and nothing is left.
#[tokio::test]
async fn a_wheel_larger_than_pinned_is_stopped_and_leaves_nothing() {
    let wheel = small_wheel();
    let size = wheel.len() as u64;
    let (index, downloads) = fake_index(wheel, small_sha(), false).await;
    let bin = tempfile::tempdir().expect("tempdir");
    let policy = DownloadPolicy {
        attempts: 1,
        ..DownloadPolicy::default()
    };
    let err = download_pinned(&index, &small_sha(), size - 10, bin.path(), &policy)
        .await
        .expect_err("too large");
    assert!(err.to_string().contains("more than"), "{err}");
    assert_eq!(downloads.load(Ordering::SeqCst), 1);
    assert_eq!(std::fs::read_dir(bin.path()).expect("list").count(), 0);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn a_wheel_with_the_wrong_sha256_is_refused_and_leaves_nothing() {
    let wheel = small_wheel();
    let size = wheel.len() as u64;
    let (index, _) = fake_index(wheel, "0".repeat(64), false).await;
    let bin = tempfile::tempdir().expect("tempdir");
    let err = download_pinned(
        &index,
        &"0".repeat(64),
        size,
        bin.path(),
        &DownloadPolicy::default(),
    )
    .await
    .expect_err("a mismatching wheel");
    let text = err.to_string();
    assert!(
        text.contains("sha256") && text.contains("discarded"),
        "{text}"
    );
    assert!(err.hint().contains("uv_path"), "{}", err.hint());
    assert_eq!(
        std::fs::read_dir(bin.path()).expect("list").count(),
        0,
        "nothing left behind"
    );
}

#[tokio::test]
async fn a_stalled_download_times_out_and_is_retried() {
    let wheel = small_wheel();
    let (index, downloads) = fake_index(wheel, small_sha(), true).await;
    let bin = tempfile::tempdir().expect("tempdir");
    let policy = DownloadPolicy {
        stall_timeout: Duration::from_secs(1),
        attempts: 3,
        first_backoff: Duration::from_millis(100),
    };
    let size = small_wheel().len() as u64;
    let uv = download_pinned(&index, &small_sha(), size, bin.path(), &policy)
        .await
        .expect("the second attempt succeeds");
    assert_eq!(downloads.load(Ordering::SeqCst), 2);
    let out = std::process::Command::new(&uv)
        .output()
        .expect("run the extracted uv");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "uv 9.9.9");
}
