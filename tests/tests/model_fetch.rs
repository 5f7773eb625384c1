//! Whisper models fetched by Murmur's own verified fetch (`engine::whisper::fetch_model`) from a
//! loopback Hub stand-in serving the real tiny.en weights: two fetches of the same model at
//! once (the page's Install and the engine's warm-up) download it once and both succeed.

use std::time::Duration;

use murmur_core::engine::whisper::{fetch_model, is_installed};
use murmur_core::runtime::Progress;
use murmur_core::runtime::fetch::Cancel;
use murmur_tests::hub::Hub;
use murmur_tests::listening::TINY_EN_REPO;
use murmur_tests::tools::whisper_tiny_en;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_fetches_of_one_model_download_it_once() {
    let hub = Hub::start().await;
    hub.put_dir(TINY_EN_REPO, &whisper_tiny_en().await);
    hub.set_piece_delay(Duration::from_millis(2));
    let data = tempfile::tempdir().expect("temp");
    let dest = data
        .path()
        .join("models/whisper/Systran--faster-whisper-tiny.en");
    let log = |_: &str| {};
    let (progress, cancel) = (Progress::none(), Cancel::default());
    let fetch = || fetch_model(&hub.url, TINY_EN_REPO, &dest, &progress, &log, &cancel);
    let (first, second) = tokio::join!(fetch(), fetch());
    first.expect("the first fetch");
    second.expect("the second fetch");
    assert!(is_installed(&dest));
    let model_requests = hub
        .requests()
        .iter()
        .filter(|r| r.contains("/resolve/") && r.ends_with("/model.bin"))
        .count();
    assert_eq!(
        model_requests,
        1,
        "model.bin was downloaded once: {:?}",
        hub.requests()
    );
}
