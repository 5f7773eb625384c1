//! The engine supervisor, end to end: the real `murmurd` running the fault-injecting Python
//! engine (tests/fixtures/fake-engine) as a `custom` engine. This file: starting, crashing,
//! health, idle unload, reloads and the control API. Processes and orphans: see
//! `supervisor_processes.rs`.

use std::time::Duration;

use futures_util::future::join_all;
use murmur_core::status::{State, Status};
use murmur_tests::murmurd::{alive, fake_engine_config, kill, wait_gone};
use murmur_tests::supervised::{QUICK, failed, pid, spawns, speak, spoken};
use murmur_tests::{Client, Murmurd};

#[tokio::test]
async fn the_first_request_starts_the_engine() {
    let murmurd = Murmurd::start(&fake_engine_config(&[], QUICK));
    let status = murmurd.engine().await;
    assert_eq!(
        status.state,
        State::Stopped,
        "auto_start = false waits for a request"
    );
    assert_eq!(status.engine.id, "custom");

    let reply = speak(&murmurd, "hello").await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(&reply.body[..4], b"RIFF");
    let status = murmurd.engine().await;
    assert_eq!(status.state, State::Ready);
    assert!(alive(pid(&status)));
    assert!(status.health.last_ok_at.is_some());
    assert!(status.memory.system_available_mb.is_some());
}

#[tokio::test]
async fn auto_start_warms_up_in_the_background() {
    let murmurd = Murmurd::start(&fake_engine_config(&["--start-delay", "0.3"], ""));
    murmurd
        .wait_for_engine("ready without any request", Duration::from_secs(15), |s| {
            s.state == State::Ready
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
    spoken(&murmurd, "one").await;
    let first = pid(&murmurd.engine().await);

    kill(first, libc::SIGKILL);
    let status = murmurd
        .wait_for_engine("a new engine", Duration::from_secs(15), |s| {
            s.state == State::Ready && s.engine.pid != Some(first)
        })
        .await;
    assert_eq!(status.restarts.total, 1);
    assert_eq!(status.restarts.crashes, 1);
    let last_exit = status.restarts.last_exit.as_deref().unwrap_or_default();
    assert!(
        last_exit.contains("SIGKILL") && last_exit.contains("memory"),
        "{last_exit}"
    );
    spoken(&murmurd, "two").await;
}

#[tokio::test]
async fn the_crash_count_resets_after_healthy_running() {
    let config = fake_engine_config(
        &[],
        "[supervisor]\nauto_start = false\nrestart_delay_ms = 100\nhealthy_reset_secs = 3\n",
    );
    let murmurd = Murmurd::start(&config);
    spoken(&murmurd, "one").await;
    kill(pid(&murmurd.engine().await), libc::SIGKILL);
    // Counted while the new engine has not yet run healthy for 3 s (a window wide enough for
    // a loaded machine's polling to see).
    murmurd
        .wait_for_engine("one crash counted", Duration::from_secs(15), |s| {
            s.restarts.crashes == 1 && s.state == State::Ready
        })
        .await;
    let status = murmurd
        .wait_for_engine("the count reset", Duration::from_secs(15), |s| {
            s.restarts.crashes == 0
        })
        .await;
    assert_eq!(status.restarts.total, 1, "the total is history and stays");
}

#[tokio::test]
async fn a_crash_loop_ends_failed_and_a_settings_change_recovers() {
    let crashing = fake_engine_config(
        &["--crash-after-secs", "0.4", "--say", "out of cheese"],
        "[supervisor]\nauto_start = false\nrestart_delay_ms = 100\nmax_restarts = 2\n",
    );
    let mut murmurd = Murmurd::start(&crashing);
    spoken(&murmurd, "hello").await;
    let status = murmurd
        .wait_for_engine("failed", Duration::from_secs(20), failed)
        .await;
    assert_eq!(status.restarts.crashes, 3);
    let State::Failed { reason } = &status.state else {
        unreachable!("waited for failed")
    };
    assert!(reason.contains("exited with code 3"), "{reason}");
    assert!(
        reason.contains("out of cheese"),
        "the last output explains it: {reason}"
    );
    assert!(status.error.as_ref().is_some_and(|e| e.hint.is_some()));

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
        .wait_for_engine("failed cleared", Duration::from_secs(5), |s| {
            s.state == State::Stopped
        })
        .await;
    spoken(&murmurd, "again").await;
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
    assert_eq!(murmurd.engine().await.state, State::Stopped);
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
        .wait_for_engine("stopped", Duration::from_secs(10), |s| {
            s.state == State::Stopped && s.engine.pid.is_none()
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
    spoken(&murmurd, "hello").await;
    let hung = pid(&murmurd.engine().await);
    kill(hung, libc::SIGSTOP);
    murmurd
        .wait_for_engine("unhealthy", Duration::from_secs(10), |s| {
            s.state == State::Unhealthy
        })
        .await;
    let status = murmurd
        .wait_for_engine("a new engine", Duration::from_secs(20), |s| {
            s.state == State::Ready && s.engine.pid != Some(hung)
        })
        .await;
    assert!(
        status
            .restarts
            .last_exit
            .as_deref()
            .is_some_and(|e| e.contains("health checks failed")),
        "{status:?}"
    );
    assert!(
        wait_gone(hung, Duration::from_secs(2)),
        "the hung engine was killed"
    );
    spoken(&murmurd, "again").await;
}

#[tokio::test]
async fn an_idle_engine_is_unloaded_and_woken_by_the_next_request() {
    let config = fake_engine_config(
        &[],
        "[supervisor]\nauto_start = false\nidle_unload_secs = 1\n",
    );
    let murmurd = Murmurd::start(&config);
    spoken(&murmurd, "hello").await;
    let first = pid(&murmurd.engine().await);
    murmurd
        .wait_for_engine("idle", Duration::from_secs(10), |s| s.state == State::Idle)
        .await;
    assert!(
        wait_gone(first, Duration::from_secs(2)),
        "unloading stops the process"
    );
    spoken(&murmurd, "wake up").await;
    assert_eq!(murmurd.engine().await.state, State::Ready);
}

#[tokio::test]
async fn a_request_longer_than_the_idle_timeout_keeps_its_engine() {
    // Streams for ~2.5 s with idle_unload_secs = 1: idle time counts from when a request ends,
    // so the engine is not unloaded under it.
    let config = fake_engine_config(
        &["--chunks", "5", "--chunk-delay-ms", "500"],
        "[supervisor]\nauto_start = false\nidle_unload_secs = 1\n",
    );
    let murmurd = Murmurd::start(&config);
    let reply = speak(&murmurd, "a long one").await;
    assert_eq!(reply.status, 200);
    let first = pid(&murmurd.engine().await);
    let reply = speak(&murmurd, "another long one").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        pid(&murmurd.engine().await),
        first,
        "the same engine served both"
    );
    murmurd
        .wait_for_engine("idle after the requests", Duration::from_secs(10), |s| {
            s.state == State::Idle
        })
        .await;
}

#[tokio::test]
async fn a_settings_change_restarts_the_engine_while_the_proxy_keeps_serving() {
    let murmurd = Murmurd::start(&fake_engine_config(&[], QUICK));
    spoken(&murmurd, "hello").await;
    let first = pid(&murmurd.engine().await);
    std::fs::write(
        murmurd.data_dir().join("config.toml"),
        fake_engine_config(&["--say", "second configuration"], QUICK),
    )
    .expect("write config");
    murmurd.signal(libc::SIGHUP);
    let status = murmurd
        .wait_for_engine("the new engine", Duration::from_secs(15), |s| {
            s.state == State::Ready && s.engine.pid != Some(first)
        })
        .await;
    assert_eq!(
        status.restarts.crashes, 0,
        "a requested restart is not a crash"
    );
    assert!(murmurd.engine_log().contains("second configuration"));
    spoken(&murmurd, "again").await;
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
    let typed = |reply: murmur_tests::Reply| -> Status {
        serde_json::from_value(reply.json()).expect("the control API answers with a status")
    };
    let started = typed(
        murmurd
            .control_post("/murmur/api/engines/speech/start")
            .await,
    );
    assert_eq!(started.state, State::Ready);
    let pid = pid(&started);
    let stopped = typed(
        murmurd
            .control_post("/murmur/api/engines/speech/stop")
            .await,
    );
    assert_eq!(stopped.state, State::Stopped);
    assert!(wait_gone(pid, Duration::from_secs(2)));
    assert_eq!(
        murmurd
            .control_post("/murmur/api/engines/speech/explode")
            .await
            .status,
        404
    );
    let unknown = murmurd
        .control_post("/murmur/api/engines/telepathy/start")
        .await;
    assert_eq!(unknown.status, 404);
    let message = unknown.json()["error"]["message"].to_string();
    assert!(message.contains("speech or transcription"), "{message}");

    // The route from before engines were a collection still works, for one release.
    let again = typed(murmurd.control_post("/murmur/api/engine/start").await);
    assert_eq!(again.state, State::Ready);
    assert_ne!(again.engine.pid, Some(pid), "a new engine");
    let stopped = typed(murmurd.control_post("/murmur/api/engine/stop").await);
    assert_eq!(stopped.state, State::Stopped);
}

#[tokio::test]
async fn concurrent_start_stop_restart_are_each_answered_in_order() {
    let murmurd = Murmurd::start(&fake_engine_config(&[], QUICK));
    let actions = [
        "start", "stop", "restart", "stop", "start", "restart", "start",
    ];
    let paths: Vec<String> = actions
        .iter()
        .map(|a| format!("/murmur/api/engines/speech/{a}"))
        .collect();
    let replies = join_all(paths.iter().map(|path| murmurd.control_post(path))).await;
    assert!(
        replies.iter().all(|r| r.status == 200),
        "every request answered"
    );
    let status = murmurd
        .wait_for_engine("settled", Duration::from_secs(15), |s| {
            s.state == State::Ready || s.state == State::Stopped
        })
        .await;
    // Whatever order they were taken in, exactly one engine (or none) is left running.
    let running = murmurd.engine_log().matches("[murmur] starting:").count()
        - murmurd.engine_log().matches("[murmur] engine ").count();
    assert!(running <= 1, "{}", murmurd.engine_log());
    if status.state == State::Ready {
        assert!(alive(pid(&status)));
    }
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
    assert_eq!(murmurd.engine().await.state, State::Stopped);
}
