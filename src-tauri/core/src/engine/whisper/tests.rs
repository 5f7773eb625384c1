//! The catalog and model sources, and the fetch's checks.

use std::path::Path;

use super::fetch::MAX_MODEL_BYTES;
use super::*;

#[test]
fn a_model_setting_is_a_catalog_name_a_repository_or_a_folder() {
    assert_eq!(
        source("base"),
        ModelSource::Hub {
            repo: "Systran/faster-whisper-base".into()
        }
    );
    assert_eq!(
        source("large-v3-turbo"),
        ModelSource::Hub {
            repo: "mobiuslabsgmbh/faster-whisper-large-v3-turbo".into()
        }
    );
    assert_eq!(
        source("me/my-whisper"),
        ModelSource::Hub {
            repo: "me/my-whisper".into()
        }
    );
    assert_eq!(
        source("/opt/models/whisper-small"),
        ModelSource::Folder("/opt/models/whisper-small".into())
    );
    let dir = tempfile::tempdir().expect("tmp");
    let relative = dir.path().to_string_lossy().into_owned();
    assert_eq!(source(&relative), ModelSource::Folder(dir.path().into()));
}

#[test]
fn hub_models_live_in_the_data_folder() {
    assert_eq!(
        hub_dir(Path::new("/d"), "Systran/faster-whisper-base"),
        Path::new("/d/models/whisper/Systran--faster-whisper-base")
    );
}

/// A Hub stand-in on loopback whose listing claims `size` bytes for model.bin.
async fn hub_claiming(size: u64) -> String {
    use axum::routing::get;
    let app = axum::Router::new()
        .route(
            "/api/models/{owner}/{name}/revision/main",
            get(|| async { axum::Json(serde_json::json!({"sha": "abc123"})) }),
        )
        .route(
            "/api/models/{owner}/{name}/tree/abc123",
            get(move || async move {
                axum::Json(serde_json::json!([
                    {"type": "file", "path": "config.json", "size": 2, "oid": "x"},
                    {"type": "file", "path": "model.bin", "size": size, "oid": "y",
                     "lfs": {"oid": "00"}},
                ]))
            }),
        )
        .fallback(|| async { (http::StatusCode::IM_A_TEAPOT, "no file is fetched") });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn a_listing_that_claims_more_than_any_model_or_the_disk_is_not_downloaded() {
    let dir = tempfile::tempdir().expect("temp");
    let dest = dir.path().join("models/whisper/x--huge");
    let progress = crate::runtime::Progress::new(|_| {});
    let cancel = Cancel::default();
    // 10 TB: no Whisper model is; refused before a byte.
    let hub = hub_claiming(10_000_000_000_000).await;
    let refused = fetch_model(&hub, "x/huge", &dest, &progress, &|_| {}, &cancel)
        .await
        .expect_err("refused");
    assert!(
        refused.message.contains("more than any Whisper model"),
        "{refused:?}"
    );
    assert!(!dest.join("model.bin").exists() && !dest.join("model.bin.part").exists());
    // Within the cap, but more than this disk has free (less the margin).
    let free = crate::runtime::fetch::free_space(dir.path()).expect("statvfs");
    if free < MAX_MODEL_BYTES {
        let hub = hub_claiming(free).await;
        let refused = fetch_model(&hub, "x/big", &dest, &progress, &|_| {}, &cancel)
            .await
            .expect_err("refused");
        assert!(refused.message.contains("MB free"), "{refused:?}");
    }
}

#[tokio::test]
async fn an_unreachable_hub_is_said_plainly_with_the_causes_left_to_the_log() {
    let dir = tempfile::tempdir().expect("temp");
    // A port nothing listens on.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let problem = fetch_model(
        &url,
        "Systran/faster-whisper-tiny",
        &dir.path().join("m"),
        &crate::runtime::Progress::new(|_| {}),
        &|_| {},
        &Cancel::default(),
    )
    .await
    .expect_err("unreachable");
    assert!(
        problem
            .message
            .contains("Murmur could not reach 127.0.0.1 — is this computer offline?"),
        "{problem:?}"
    );
    assert!(
        !problem.message.contains("error sending request"),
        "{problem:?}"
    );
}
