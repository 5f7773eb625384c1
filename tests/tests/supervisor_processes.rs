//! The engine supervisor and the processes it owns: stopping (SIGTERM ignored, grandchildren,
//! requests in flight), `kill -9` of `murmurd`, and the pidfile that reaps leftovers while
//! leaving other programs alone.

use std::time::Duration;

use murmur_core::status::State;
use murmur_tests::murmurd::{Launch, alive, fake_engine_config, wait_gone};
use murmur_tests::supervised::{QUICK, pid, speak, spoken};
use murmur_tests::{Client, Murmurd};

#[tokio::test]
async fn sigterm_ignored_by_the_engine_escalates_to_sigkill_and_grandchildren_go_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let grandchild_file = dir.path().join("grandchild.pid");
    let grandchild_arg = grandchild_file.to_string_lossy().into_owned();
    let config = fake_engine_config(
        &["--ignore-sigterm", "--grandchild", &grandchild_arg],
        "[supervisor]\nauto_start = false\nstop_grace_secs = 1\n",
    );
    let mut murmurd = Murmurd::start(&config);
    spoken(&murmurd, "hello").await;
    let engine = pid(&murmurd.engine().await);
    let grandchild: u32 = std::fs::read_to_string(&grandchild_file)
        .expect("grandchild pid")
        .trim()
        .parse()
        .expect("a pid");
    assert!(alive(grandchild));

    murmurd.signal(libc::SIGTERM);
    let exit = murmurd
        .wait_exit(Duration::from_secs(10))
        .expect("murmurd exits");
    assert_eq!(exit.code(), Some(0));
    assert!(!alive(engine), "the engine is gone");
    assert!(
        wait_gone(grandchild, Duration::from_secs(2)),
        "its grandchild is gone"
    );
    assert!(
        murmurd.engine_log().contains("ignored SIGTERM"),
        "{}",
        murmurd.engine_log()
    );
}

#[tokio::test]
async fn kill_9_of_murmurd_takes_the_engine_down_and_leftovers_are_reaped_next_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let grandchild_file = dir.path().join("grandchild.pid");
    let grandchild_arg = grandchild_file.to_string_lossy().into_owned();
    let config = fake_engine_config(&["--grandchild", &grandchild_arg], QUICK);
    let murmurd = Murmurd::start(&config);
    spoken(&murmurd, "hello").await;
    let engine = pid(&murmurd.engine().await);
    let grandchild: u32 = std::fs::read_to_string(&grandchild_file)
        .expect("pid")
        .trim()
        .parse()
        .expect("pid");

    let data_dir = murmurd.kill_keep_data();
    assert!(
        wait_gone(engine, Duration::from_secs(2)),
        "the engine died with murmurd (parent-death signal)"
    );
    assert!(
        alive(grandchild),
        "its grandchild outlived both: this is what the pidfile is for"
    );
    assert!(data_dir.path().join("engine.pid").exists());

    let launch = Launch {
        data_dir: Some(data_dir),
        ..Launch::with_config(&config)
    };
    let murmurd = Murmurd::launch(launch).unwrap_or_else(|(s, e)| panic!("{s}: {e}"));
    assert!(
        wait_gone(grandchild, Duration::from_secs(5)),
        "the next start reaped it"
    );
    assert!(
        murmurd.engine_log().contains("left by an earlier run"),
        "{}",
        murmurd.engine_log()
    );
}

#[tokio::test]
async fn a_foreign_process_named_in_the_pidfile_is_left_alone() {
    let mut foreign = std::process::Command::new("python3")
        .args(["-m", "http.server", "--bind", "127.0.0.1", "0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn a foreign server");
    let pid = foreign.id();
    let data_dir = tempfile::tempdir().expect("tempdir");
    // Recorded as if it were an engine of ours, but with another command line: pid reuse.
    let mut record = murmur_core::supervisor::pidfile::Record::of(pid).expect("the process exists");
    record.cmdline = vec!["python3".into(), "fake_engine.py".into()];
    std::fs::write(
        data_dir.path().join("engine.pid"),
        serde_json::to_string(&record).expect("json"),
    )
    .expect("write");

    let config = fake_engine_config(&[], QUICK);
    let launch = Launch {
        data_dir: Some(data_dir),
        ..Launch::with_config(&config)
    };
    let murmurd = Murmurd::launch(launch).unwrap_or_else(|(s, e)| panic!("{s}: {e}"));
    assert_eq!(murmurd.engine().await.state, State::Stopped);
    // Once the supervisor has decided (its log says so), the process must still be there.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !murmurd.engine_log().contains("left alone") {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            murmurd.engine_log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(alive(pid), "a process that is not ours was not signalled");
    let _ = foreign.kill();
    let _ = foreign.wait();
}

#[tokio::test]
async fn stopping_the_engine_ends_a_request_in_flight_without_hanging() {
    let murmurd = Murmurd::start(&fake_engine_config(
        &["--chunks", "50", "--chunk-delay-ms", "100"],
        QUICK,
    ));
    assert_eq!(
        murmurd
            .control_post("/murmur/api/engines/speech/start")
            .await
            .status,
        200
    );
    let url = murmurd.url("/v1/audio/speech");
    let body = r#"{"input":"a long sentence that streams slowly"}"#;
    let request = tokio::spawn(async move {
        let response = Client::new()
            .send(murmur_tests::client::request(
                http::Method::POST,
                &url,
                body,
            ))
            .await;
        let status = response.status();
        let body = http_body_util::BodyExt::collect(response.into_body()).await;
        (status, body.is_ok())
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        murmurd
            .control_post("/murmur/api/engines/speech/stop")
            .await
            .status,
        200
    );
    let (status, complete) = tokio::time::timeout(Duration::from_secs(10), request)
        .await
        .expect("the request ended")
        .expect("task");
    assert!(
        (status == 200 && !complete) || status == 502 || status == 503,
        "a cut-off stream must not look complete: {status} complete={complete}"
    );
}

#[tokio::test]
async fn a_python_engine_is_provisioned_with_uv_then_starts_on_the_fast_path() {
    let project = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/fake-engine");
    let config = format!(
        "[engine]\nid = \"custom\"\n[engine.custom]\ncommand = [\"{{python}}\", \"-m\", \"fake_engine\", \"--port\", \"{{port}}\"]\n\
         python_project = \"{project}\"\n[supervisor]\nauto_start = false\n\
         [runtime]\npython_install_mirror = \"http://127.0.0.1:9/python\"\n"
    );
    let murmurd = Murmurd::start(&config);
    let reply = speak(&murmurd, "hello").await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let status = murmurd.engine().await;
    assert_eq!(status.state, State::Ready);
    assert!(
        status
            .runtime_note
            .as_deref()
            .is_some_and(|n| n.contains("system's Python")),
        "the status says which Python: {status:?}"
    );
    let cmdline =
        std::fs::read_to_string(format!("/proc/{}/cmdline", pid(&status))).expect("cmdline");
    assert!(
        cmdline.contains("murmur_launch"),
        "launched under the launcher: {cmdline:?}"
    );
    assert!(
        murmurd.engine_log().contains("Python environment synced"),
        "{}",
        murmurd.engine_log()
    );

    let data_dir = murmurd.kill_keep_data();
    let launch = Launch {
        data_dir: Some(data_dir),
        ..Launch::with_config(&config)
    };
    let murmurd = Murmurd::launch(launch).unwrap_or_else(|(s, e)| panic!("{s}: {e}"));
    spoken(&murmurd, "again").await;
    assert!(
        murmurd
            .engine_log()
            .contains("Python environment up to date"),
        "{}",
        murmurd.engine_log()
    );
}

/// An engine that writes bytes that are not UTF-8 and 2 KB of them per request keeps being
/// heard: 200 requests in a row are answered (its stderr pipe never fills) and its last line
/// is in the engine log, the bad bytes replaced.
#[tokio::test]
async fn an_engine_writing_bytes_that_are_not_utf8_is_read_to_the_end() {
    let murmurd = Murmurd::start(&fake_engine_config(&["--noisy-stderr"], ""));
    for i in 0..200 {
        let reply = speak(&murmurd, "Still heard.").await;
        assert_eq!(reply.status, 200, "request {i}: {}", murmurd.engine_log());
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let log = murmurd.engine_log();
        if log.matches("noise for request").count() >= 200 {
            assert!(log.contains("\u{fffd}\u{fffd}fake-engine: starting, not UTF-8:"));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the engine's later lines are missing: {}",
            &log[log.len().saturating_sub(3000)..]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
