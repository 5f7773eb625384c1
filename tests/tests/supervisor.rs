//! The engine supervisor, end to end: the real `murmurd` running the fault-injecting Python
//! engine (tests/fixtures/fake-engine) as a `custom` engine, over real processes and ports.

use std::time::Duration;

use futures_util::future::join_all;
use murmur_tests::murmurd::{Launch, alive, fake_engine_config, kill, wait_gone};
use murmur_tests::{Client, Murmurd};
use serde_json::Value;

const QUICK: &str = "[supervisor]\nauto_start = false\nrestart_delay_ms = 100\n";

fn state(status: &Value) -> &str {
    status["state"].as_str().unwrap_or_default()
}

fn engine_pid(status: &Value) -> u32 {
    status["engine"]["pid"].as_u64().expect("engine pid") as u32
}

async fn speak(murmurd: &Murmurd, text: &str) -> murmur_tests::Reply {
    Client::new()
        .post_json(
            &murmurd.url("/v1/audio/speech"),
            &format!(r#"{{"input":"{text}"}}"#),
        )
        .await
}

fn spawns(murmurd: &Murmurd) -> usize {
    murmurd.engine_log().matches("[murmur] starting:").count()
}

#[tokio::test]
async fn the_first_request_starts_the_engine() {
    let murmurd = Murmurd::start(&fake_engine_config(&[], QUICK));
    let status = murmurd.status().await;
    assert_eq!(
        state(&status),
        "stopped",
        "auto_start = false waits for a request"
    );
    assert_eq!(status["engine"]["id"], "custom");

    let reply = speak(&murmurd, "hello").await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(&reply.body[..4], b"RIFF");
    let status = murmurd.status().await;
    assert_eq!(state(&status), "ready");
    assert!(alive(engine_pid(&status)));
    assert!(status["health"]["last_ok_at"].as_u64().is_some());
    assert!(status["memory"]["system_available_mb"].as_u64().is_some());
}

#[tokio::test]
async fn auto_start_warms_up_in_the_background() {
    let murmurd = Murmurd::start(&fake_engine_config(&["--start-delay", "0.3"], ""));
    murmurd
        .wait_for("ready without any request", Duration::from_secs(15), |s| {
            state(s) == "ready"
        })
        .await;
    assert_eq!(spawns(&murmurd), 1);
}

#[tokio::test]
async fn a_hundred_first_requests_make_one_spawn() {
    let murmurd = Murmurd::start(&fake_engine_config(&["--start-delay", "0.5"], QUICK));
    let client = Client::new();
    let url = murmurd.url("/v1/models");
    let replies = join_all((0..100).map(|_| client.get(&url))).await;
    assert!(replies.iter().all(|r| r.status == 200));
    assert_eq!(spawns(&murmurd), 1, "{}", murmurd.engine_log());
}

#[tokio::test]
async fn a_killed_engine_is_restarted_and_counted() {
    let murmurd = Murmurd::start(&fake_engine_config(&[], QUICK));
    assert_eq!(speak(&murmurd, "one").await.status, 200);
    let first = engine_pid(&murmurd.status().await);

    kill(first, libc::SIGKILL);
    let status = murmurd
        .wait_for("a new engine", Duration::from_secs(15), |s| {
            state(s) == "ready" && s["engine"]["pid"].as_u64() != Some(u64::from(first))
        })
        .await;
    assert_eq!(status["restarts"]["total"], 1);
    assert_eq!(status["restarts"]["crashes"], 1);
    let last_exit = status["restarts"]["last_exit"].as_str().unwrap_or_default();
    assert!(
        last_exit.contains("SIGKILL") && last_exit.contains("memory"),
        "{last_exit}"
    );
    assert_eq!(speak(&murmurd, "two").await.status, 200);
}

#[tokio::test]
async fn the_crash_count_resets_after_healthy_running() {
    let config = fake_engine_config(
        &[],
        "[supervisor]\nauto_start = false\nrestart_delay_ms = 100\nhealthy_reset_secs = 1\n",
    );
    let murmurd = Murmurd::start(&config);
    assert_eq!(speak(&murmurd, "one").await.status, 200);
    kill(engine_pid(&murmurd.status().await), libc::SIGKILL);
    murmurd
        .wait_for("one crash counted", Duration::from_secs(15), |s| {
            s["restarts"]["crashes"] == 1 && state(s) == "ready"
        })
        .await;
    let status = murmurd
        .wait_for("the count reset", Duration::from_secs(5), |s| {
            s["restarts"]["crashes"] == 0
        })
        .await;
    assert_eq!(
        status["restarts"]["total"], 1,
        "the total is history and stays"
    );
}

#[tokio::test]
async fn a_crash_loop_ends_failed_and_a_settings_change_recovers() {
    let crashing = fake_engine_config(
        &["--crash-after-secs", "0.4", "--say", "out of cheese"],
        "[supervisor]\nauto_start = false\nrestart_delay_ms = 100\nmax_restarts = 2\n",
    );
    let mut murmurd = Murmurd::start(&crashing);
    assert_eq!(speak(&murmurd, "hello").await.status, 200);
    let status = murmurd
        .wait_for("failed", Duration::from_secs(20), |s| state(s) == "failed")
        .await;
    assert_eq!(status["restarts"]["crashes"], 3);
    let reason = status["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("exited with code 3"), "{reason}");
    assert!(
        reason.contains("out of cheese"),
        "the last output explains it: {reason}"
    );
    assert!(status["error"]["hint"].as_str().is_some());

    let reply = speak(&murmurd, "hello").await;
    assert_eq!(reply.status, 503);
    assert!(
        reply.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("failed"))
    );

    // Fix the command and reload: Failed is cleared and the engine runs again.
    let fixed = fake_engine_config(
        &[],
        "[supervisor]\nauto_start = false\nrestart_delay_ms = 100\nmax_restarts = 2\n",
    );
    std::fs::write(murmurd.data_dir().join("config.toml"), fixed).expect("write config");
    murmurd.signal(libc::SIGHUP);
    murmurd
        .wait_for("failed cleared", Duration::from_secs(5), |s| {
            state(s) == "stopped"
        })
        .await;
    assert_eq!(speak(&murmurd, "again").await.status, 200);
    let _ = &mut murmurd;
}

#[tokio::test]
async fn an_engine_that_exits_at_start_gets_a_503_with_its_output_and_is_retried() {
    let murmurd = Murmurd::start(&fake_engine_config(
        &["--exit-at-start", "--say", "no voices found"],
        QUICK,
    ));
    for attempt in 1..=2 {
        let reply = speak(&murmurd, "hello").await;
        assert_eq!(reply.status, 503);
        let message = reply.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            message.contains("exited with code 3") && message.contains("no voices found"),
            "{message}"
        );
        assert_eq!(spawns(&murmurd), attempt, "each request tries again");
    }
    assert_eq!(state(&murmurd.status().await), "stopped");
}

#[tokio::test]
async fn an_engine_that_never_gets_ready_times_out_and_is_stopped() {
    let config = fake_engine_config(
        &["--never-ready"],
        "[supervisor]\nauto_start = false\nstartup_timeout_secs = 1\n",
    );
    let murmurd = Murmurd::start(&config);
    let reply = speak(&murmurd, "hello").await;
    assert_eq!(reply.status, 503);
    let error = &reply.json()["error"];
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("within 1 s")),
        "{error}"
    );
    assert_eq!(error["stage"], "starting");
    murmurd
        .wait_for("stopped", Duration::from_secs(10), |s| {
            state(s) == "stopped" && s["engine"]["pid"].is_null()
        })
        .await;
}

#[tokio::test]
async fn a_hung_engine_is_replaced_after_three_failed_health_checks() {
    let config = fake_engine_config(
        &[],
        "[supervisor]\nauto_start = false\nhealth_interval_secs = 1\nhealth_timeout_secs = 1\nstop_grace_secs = 1\nrestart_delay_ms = 100\n",
    );
    let murmurd = Murmurd::start(&config);
    assert_eq!(speak(&murmurd, "hello").await.status, 200);
    let hung = engine_pid(&murmurd.status().await);
    kill(hung, libc::SIGSTOP);
    murmurd
        .wait_for("unhealthy", Duration::from_secs(10), |s| {
            state(s) == "unhealthy"
        })
        .await;
    let status = murmurd
        .wait_for("a new engine", Duration::from_secs(20), |s| {
            state(s) == "ready" && s["engine"]["pid"].as_u64() != Some(u64::from(hung))
        })
        .await;
    assert!(
        status["restarts"]["last_exit"]
            .as_str()
            .is_some_and(|e| e.contains("health checks failed")),
        "{status}"
    );
    assert!(
        wait_gone(hung, Duration::from_secs(2)),
        "the hung engine was killed"
    );
    assert_eq!(speak(&murmurd, "again").await.status, 200);
}

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
    assert_eq!(speak(&murmurd, "hello").await.status, 200);
    let engine = engine_pid(&murmurd.status().await);
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
    assert_eq!(speak(&murmurd, "hello").await.status, 200);
    let engine = engine_pid(&murmurd.status().await);
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
    assert_eq!(state(&murmurd.status().await), "stopped");
    std::thread::sleep(Duration::from_millis(300));
    assert!(alive(pid), "a process that is not ours was not signalled");
    assert!(
        murmurd.engine_log().contains("left alone"),
        "{}",
        murmurd.engine_log()
    );
    let _ = foreign.kill();
    let _ = foreign.wait();
}

#[tokio::test]
async fn an_idle_engine_is_unloaded_and_woken_by_the_next_request() {
    let config = fake_engine_config(
        &[],
        "[supervisor]\nauto_start = false\nidle_unload_secs = 1\n",
    );
    let murmurd = Murmurd::start(&config);
    assert_eq!(speak(&murmurd, "hello").await.status, 200);
    let first = engine_pid(&murmurd.status().await);
    murmurd
        .wait_for("idle", Duration::from_secs(10), |s| state(s) == "idle")
        .await;
    assert!(
        wait_gone(first, Duration::from_secs(2)),
        "unloading stops the process"
    );
    assert_eq!(speak(&murmurd, "wake up").await.status, 200);
    assert_eq!(state(&murmurd.status().await), "ready");
}

#[tokio::test]
async fn a_settings_change_restarts_the_engine_while_the_proxy_keeps_serving() {
    let murmurd = Murmurd::start(&fake_engine_config(&[], QUICK));
    assert_eq!(speak(&murmurd, "hello").await.status, 200);
    let first = engine_pid(&murmurd.status().await);
    std::fs::write(
        murmurd.data_dir().join("config.toml"),
        fake_engine_config(&["--say", "second configuration"], QUICK),
    )
    .expect("write config");
    murmurd.signal(libc::SIGHUP);
    let status = murmurd
        .wait_for("the new engine", Duration::from_secs(15), |s| {
            state(s) == "ready" && s["engine"]["pid"].as_u64() != Some(u64::from(first))
        })
        .await;
    assert_eq!(
        status["restarts"]["crashes"], 0,
        "a requested restart is not a crash"
    );
    assert!(murmurd.engine_log().contains("second configuration"));
    assert_eq!(speak(&murmurd, "again").await.status, 200);
    assert_eq!(
        Client::new()
            .get(&murmurd.url("/murmur/healthz"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn the_engine_can_be_stopped_and_started_from_the_control_api() {
    let murmurd = Murmurd::start(&fake_engine_config(&[], QUICK));
    let started = murmurd.control_post("/murmur/api/engine/start").await;
    assert_eq!(state(&started.json()), "ready");
    let pid = engine_pid(&started.json());
    let stopped = murmurd.control_post("/murmur/api/engine/stop").await;
    assert_eq!(state(&stopped.json()), "stopped");
    assert!(wait_gone(pid, Duration::from_secs(2)));
    assert_eq!(
        murmurd
            .control_post("/murmur/api/engine/explode")
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn concurrent_start_stop_restart_are_each_answered_in_order() {
    let murmurd = Murmurd::start(&fake_engine_config(&[], QUICK));
    let actions = [
        "start", "stop", "restart", "stop", "start", "restart", "start",
    ];
    let paths: Vec<String> = actions
        .iter()
        .map(|a| format!("/murmur/api/engine/{a}"))
        .collect();
    let replies = join_all(paths.iter().map(|path| murmurd.control_post(path))).await;
    assert!(
        replies.iter().all(|r| r.status == 200),
        "every request answered"
    );
    let status = murmurd
        .wait_for("settled", Duration::from_secs(15), |s| {
            state(s) == "ready" || state(s) == "stopped"
        })
        .await;
    // Whatever order they were taken in, exactly one engine (or none) is left running.
    let running = murmurd.engine_log().matches("[murmur] starting:").count()
        - murmurd.engine_log().matches("[murmur] engine ").count();
    assert!(running <= 1, "{}", murmurd.engine_log());
    if state(&status) == "ready" {
        assert!(alive(engine_pid(&status)));
    }
}

#[tokio::test]
async fn stopping_the_engine_ends_a_request_in_flight_without_hanging() {
    let murmurd = Murmurd::start(&fake_engine_config(
        &["--chunks", "50", "--chunk-delay-ms", "100"],
        QUICK,
    ));
    assert_eq!(
        murmurd
            .control_post("/murmur/api/engine/start")
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
        murmurd.control_post("/murmur/api/engine/stop").await.status,
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
async fn the_control_api_needs_the_token() {
    let murmurd = Murmurd::start(&fake_engine_config(&[], QUICK));
    let client = Client::new();
    let url = murmurd.url("/murmur/api/status");
    assert_eq!(client.get(&url).await.status, 401);
    let mut wrong = murmur_tests::client::request(http::Method::GET, &url, "");
    wrong
        .headers_mut()
        .insert("authorization", "Bearer nope".parse().expect("header"));
    assert_eq!(client.exchange(wrong).await.status, 401);
    assert_eq!(murmurd.status().await["state"], "stopped");
}
