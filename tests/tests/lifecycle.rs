//! `murmurd` as a process: start-up, configuration, port conflicts, graceful shutdown.

use std::time::Duration;

use http::Method;
use http_body_util::BodyExt;
use murmur_tests::client::request;
use murmur_tests::murmurd::{Launch, external_config};
use murmur_tests::{Client, FakeUpstream, Murmurd, free_port};

/// The default engine, not warmed up: these tests are about the process, not speech.
const IDLE: &str = "[supervisor]\nauto_start = false\n";

#[tokio::test]
async fn sigterm_finishes_the_request_in_flight_then_exits_0() {
    let fake = FakeUpstream::start().await;
    let mut murmurd = Murmurd::start(&external_config(&fake.url(), ""));
    let client = Client::new();
    let body = r#"{"input":"hi","fake":{"bytes":40000,"chunk":1000,"delay_ms":25}}"#;
    let response = client
        .send(request(
            Method::POST,
            &murmurd.url("/v1/audio/speech"),
            body,
        ))
        .await;
    assert_eq!(response.status(), 200);

    murmurd.signal(libc::SIGTERM);
    // The listener closes at once (while the request in flight goes on).
    let address = murmurd.base.trim_start_matches("http://").to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(&address).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "no new connections after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("the body completes")
        .to_bytes();
    assert_eq!(bytes.len(), 40000, "the in-flight request was finished");
    let status = murmurd
        .wait_exit(Duration::from_secs(10))
        .expect("murmurd exits");
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn sigint_exits_0_when_idle() {
    let mut murmurd = Murmurd::start(IDLE);
    murmurd.signal(libc::SIGINT);
    let status = murmurd
        .wait_exit(Duration::from_secs(10))
        .expect("murmurd exits");
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn a_stuck_request_delays_exit_by_at_most_the_drain_timeout() {
    let fake = FakeUpstream::start().await;
    let mut murmurd = Murmurd::start(&external_config(
        &fake.url(),
        "[proxy]\nshutdown_timeout_secs = 1\n",
    ));
    let client = Client::new();
    let body = r#"{"input":"hi","fake":{"bytes":100000,"chunk":100,"delay_ms":100}}"#;
    let response = client
        .send(request(
            Method::POST,
            &murmurd.url("/v1/audio/speech"),
            body,
        ))
        .await;
    murmurd.signal(libc::SIGTERM);
    let status = murmurd
        .wait_exit(Duration::from_secs(8))
        .expect("exits after the drain timeout");
    assert_eq!(status.code(), Some(0));
    assert!(
        response.into_body().collect().await.is_err(),
        "the cut request is not complete"
    );
}

#[test]
fn a_taken_port_is_named_with_its_holder() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = holder.local_addr().expect("addr").port();
    let launch = Launch {
        args: vec!["--port".into(), port.to_string()],
        ..Launch::with_config(IDLE)
    };
    let (status, stderr) = Murmurd::launch(launch).err().expect("murmurd cannot start");
    assert_eq!(status.code(), Some(1));
    assert!(stderr.contains(&format!("port {port}")), "{stderr}");
    assert!(
        stderr.contains(&format!("pid {}", std::process::id())),
        "names the holder: {stderr}"
    );
}

#[test]
fn flags_beat_env_beat_the_file() {
    let (file_port, env_port, flag_port) = (free_port(), free_port(), free_port());
    let config = format!("{IDLE}[proxy]\nport = {file_port}\n");
    let port_of = |args: Vec<String>, env: Vec<(String, String)>| {
        let murmurd = Murmurd::launch(Launch {
            args,
            env,
            ..Launch::with_config(&config)
        })
        .unwrap_or_else(|(s, e)| panic!("{s}: {e}"));
        murmurd.port()
    };
    let env = vec![("MURMUR_PORT".to_string(), env_port.to_string())];
    assert_eq!(port_of(vec![], vec![]), file_port);
    assert_eq!(port_of(vec![], env.clone()), env_port);
    assert_eq!(
        port_of(vec!["--port".into(), flag_port.to_string()], env),
        flag_port
    );
}

#[test]
fn a_broken_config_names_the_key_and_line_and_is_kept() {
    let cases = [
        ("[proxy]\nport = 19281\nprot = 1\n", "proxy.prot", "line 3"),
        ("[engine]\nid = \"external\"\n", "engine.url", "line"),
        (
            "[supervisor]\n\nmax_restarts = -1\n",
            "supervisor.max_restarts",
            "line 3",
        ),
        ("[engine]\nspeed = 7.0\n", "engine.speed", "line 2"),
        ("[proxy\n", "", "line 1"),
    ];
    for (config, key, line) in cases {
        let (status, stderr) = Murmurd::launch(Launch::with_config(config))
            .err()
            .unwrap_or_else(|| panic!("murmurd started with {config:?}"));
        assert_eq!(status.code(), Some(2), "{config:?}: {stderr}");
        assert!(
            stderr.contains(key) && stderr.contains(line),
            "{config:?}: {stderr}"
        );
    }
    // The file is left exactly as the user wrote it.
    let launch = Launch::with_config("[proxy]\nprot = 1\n");
    let data_dir = tempfile::tempdir().expect("tempdir");
    let file = data_dir.path().join("config.toml");
    std::fs::write(&file, "[proxy]\nprot = 1\n").expect("write");
    let status = std::process::Command::new(murmur_tests::murmurd::binary())
        .arg("--data-dir")
        .arg(data_dir.path())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run murmurd");
    assert_eq!(status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&file).expect("read"), launch.config);
    assert!(!data_dir.path().join("config.toml.bak").exists());
}

#[test]
fn a_bad_environment_value_names_the_variable() {
    let launch = Launch {
        env: vec![("MURMUR_ENGINE".into(), "espeak".into())],
        ..Launch::with_config(IDLE)
    };
    let (status, stderr) = Murmurd::launch(launch).err().expect("refused");
    assert_eq!(status.code(), Some(2));
    assert!(stderr.contains("MURMUR_ENGINE"), "{stderr}");
}

#[tokio::test]
async fn it_logs_to_a_file_under_the_data_dir() {
    let murmurd = Murmurd::start(IDLE);
    let logs = murmurd.data_dir().join("logs");
    let mut found = false;
    for _ in 0..50 {
        found = std::fs::read_dir(&logs)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                e.file_name().to_string_lossy().starts_with("murmurd")
                    && std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains("listening on"))
            });
        if found {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        found,
        "no murmurd log with the listening line in {}",
        logs.display()
    );
}

#[test]
fn an_unknown_flag_is_an_error_with_the_usage() {
    let out = std::process::Command::new(murmur_tests::murmurd::binary())
        .args(["--prot", "1"])
        .output()
        .expect("run murmurd");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Usage: murmurd"), "{stderr}");
    let help = std::process::Command::new(murmur_tests::murmurd::binary())
        .arg("--help")
        .output()
        .expect("run murmurd");
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in ["--config", "--data-dir", "--port", "--engine"] {
        assert!(help.contains(flag), "{help}");
    }
}
