//! Provisioning a Python runtime with real uv from the real PyPI (reachable from CI), plus a
//! loopback fake index for the failures PyPI will not stage on demand.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use murmur_core::config::RuntimeSettings;
use murmur_core::runtime::fetch::DownloadPolicy;
use murmur_core::runtime::{Progress, Provision, Runtime, RuntimeError, provision};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/fake-engine")
}

/// Managed Pythons come from a loopback address that refuses: the fallback is exercised the
/// same way everywhere, online or not.
fn settings() -> RuntimeSettings {
    RuntimeSettings {
        python_install_mirror: Some("http://127.0.0.1:9/python".into()),
        ..RuntimeSettings::default()
    }
}

struct Run {
    result: Result<Runtime, RuntimeError>,
    uv_lines: usize,
    took: Duration,
}

async fn run(project: &Path, data_dir: &Path, settings: &RuntimeSettings) -> Run {
    let lines = Arc::new(AtomicUsize::new(0));
    let counter = lines.clone();
    let log = move |line: &str| {
        if line.starts_with("[uv]") {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    };
    let started = Instant::now();
    let result = provision(Provision {
        project,
        name: "fake",
        settings,
        data_dir,
        policy: DownloadPolicy::default(),
        progress: Progress::none(),
        log: &log,
        // No uv on PATH: Murmur must bring its own.
        search_path: Some("".into()),
    })
    .await;
    Run {
        result,
        uv_lines: lines.load(Ordering::SeqCst),
        took: started.elapsed(),
    }
}

/// A copy of the fixture project that a test may change.
fn project_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["pyproject.toml", "uv.lock"] {
        std::fs::copy(fixture().join(name), dir.path().join(name)).expect("copy");
    }
    dir
}

#[tokio::test]
async fn cold_then_warm_then_changed_then_corrupted_then_broken() {
    let data = tempfile::tempdir().expect("tempdir");
    let project = project_copy();
    let settings = settings();

    let cold = run(project.path(), data.path(), &settings).await;
    let runtime = cold.result.expect("cold provisioning");
    assert!(!runtime.fast_path);
    assert!(
        data.path().join("bin/uv").is_file(),
        "uv was downloaded into the data dir"
    );
    assert!(runtime.python.exists());
    assert!(cold.uv_lines > 0, "uv ran");
    let note = runtime.note.clone().unwrap_or_default();
    assert!(
        note.contains("system's Python"),
        "the fallback is reported: {note:?}"
    );
    let python_ok = std::process::Command::new(&runtime.python)
        .args(["-c", "import murmur_launch"])
        .env("PYTHONPATH", &runtime.dir)
        .status()
        .expect("run the venv's python");
    assert!(
        python_ok.success(),
        "the launcher is importable from the runtime"
    );

    // Warm: uv is not run at all. Remove it and point the index nowhere to be sure.
    std::fs::remove_file(data.path().join("bin/uv")).expect("remove uv");
    let offline = RuntimeSettings {
        pypi_url: "http://127.0.0.1:9/pypi".into(),
        ..settings.clone()
    };
    let warm = run(project.path(), data.path(), &offline).await;
    let warm_runtime = warm.result.expect("warm provisioning");
    assert!(warm_runtime.fast_path);
    assert_eq!(warm.uv_lines, 0);
    eprintln!(
        "provisioning: cold {:.0} ms (uv download + sync), warm {:.2} ms, saved {:.0} ms",
        cold.took.as_secs_f64() * 1000.0,
        warm.took.as_secs_f64() * 1000.0,
        (cold.took - warm.took).as_secs_f64() * 1000.0
    );

    // A changed lock syncs again.
    let mut lock = std::fs::OpenOptions::new()
        .append(true)
        .open(project.path().join("uv.lock"))
        .expect("open lock");
    writeln!(lock, "# changed").expect("append");
    let changed = run(project.path(), data.path(), &settings).await;
    assert!(!changed.result.expect("re-sync").fast_path);
    assert!(changed.uv_lines > 0);

    // A corrupted venv is rebuilt.
    std::fs::remove_file(data.path().join("runtimes/fake/.venv/bin/python"))
        .expect("break the venv");
    let rebuilt = run(project.path(), data.path(), &settings)
        .await
        .result
        .expect("rebuilt");
    assert!(!rebuilt.fast_path);
    assert!(rebuilt.python.exists());

    // A sync that fails keeps the previous environment usable (it is built beside, then swapped).
    std::fs::write(project.path().join("uv.lock"), "this is not a lock file")
        .expect("break the lock");
    let kept = run(project.path(), data.path(), &settings)
        .await
        .result
        .expect("the old venv is kept");
    assert!(
        kept.note.as_deref().is_some_and(|n| n.contains("previous")),
        "{:?}",
        kept.note
    );
    assert!(kept.python.exists());
    assert!(
        !data.path().join("runtimes/fake/.venv-next").exists(),
        "the failed build is removed"
    );
}

#[tokio::test]
async fn two_provisioners_at_once_sync_once() {
    let data = tempfile::tempdir().expect("tempdir");
    // Get uv (and a first venv) out of the way, then change the project so both must sync.
    let project = project_copy();
    run(project.path(), data.path(), &settings())
        .await
        .result
        .expect("first");
    std::fs::write(
        project.path().join("uv.lock"),
        std::fs::read_to_string(fixture().join("uv.lock")).expect("read") + "\n",
    )
    .expect("touch lock");
    let settings = settings();
    let (a, b) = tokio::join!(
        run(project.path(), data.path(), &settings),
        run(project.path(), data.path(), &settings)
    );
    let (a, b) = (a.result.expect("a"), b.result.expect("b"));
    assert_eq!(
        [a.fast_path, b.fast_path]
            .iter()
            .filter(|fast| !**fast)
            .count(),
        1,
        "exactly one of them ran uv"
    );
}

#[tokio::test]
async fn the_launcher_takes_the_engine_down_when_murmur_goes() {
    let data = tempfile::tempdir().expect("tempdir");
    let runtime = run(&fixture(), data.path(), &settings())
        .await
        .result
        .expect("provisioned");
    let port = murmur_tests::free_port();
    let grandchild_file = data.path().join("grandchild.pid");
    let mut engine = std::process::Command::new(&runtime.python)
        .args([
            "-m",
            "murmur_launch",
            "fake_engine",
            "--port",
            &port.to_string(),
            "--grandchild",
        ])
        .arg(&grandchild_file)
        .env(
            "PYTHONPATH",
            format!("{}:{}", runtime.dir.display(), fixture().display()),
        )
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .expect("launch");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the engine never listened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let grandchild: u32 = std::fs::read_to_string(&grandchild_file)
        .expect("pid")
        .trim()
        .parse()
        .expect("pid");

    drop(engine.stdin.take()); // what Murmur's death looks like from the engine's side
    let deadline = Instant::now() + Duration::from_secs(5);
    while engine.try_wait().expect("try_wait").is_none() {
        assert!(Instant::now() < deadline, "the engine outlived its stdin");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        murmur_tests::murmurd::wait_gone(grandchild, Duration::from_secs(2)),
        "and took its grandchild along"
    );
}
