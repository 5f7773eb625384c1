//! The actor's state transitions through its seam: a scripted [`Host`] plays the engine
//! processes ([`fake`]), and tokio's paused clock plays time, so crash budgets, health checks
//! and idle timers that take minutes run in microseconds, the same way every time. (The
//! end-to-end tests in `tests/` run the same actor on real processes.)

mod fake;

use std::time::Duration;

use tokio::time::Instant;

use fake::{FIRST_PID, failed, harness, settings};

use super::process::Signal;
use crate::backend::Backend;
use crate::status::State;

#[tokio::test(start_paused = true)]
async fn crashes_restart_after_the_delay_until_the_budget_is_spent() {
    let h = harness(settings());
    h.supervisor.start().await.expect("ready");
    assert_eq!(h.host.spawned(), 1);

    for attempt in 1..=2 {
        let crashed_at = Instant::now();
        h.host.crash(h.host.current(), 1);
        let backoff = h
            .until("backing off", |s| matches!(s.state, State::Backoff { .. }))
            .await;
        assert_eq!(backoff.state.name(), "backoff");
        assert!(matches!(backoff.state, State::Backoff { attempt: a, .. } if a == attempt));
        let ready = h.ready().await;
        assert_eq!(h.host.spawned(), attempt as usize + 1, "one new process");
        assert!(
            crashed_at.elapsed() >= Duration::from_millis(500),
            "restarted only after restart_delay_ms"
        );
        assert_eq!(ready.restarts.crashes, attempt);
        assert_eq!(ready.restarts.total, attempt);
    }

    // The third crash in a row is one more than max_restarts = 2.
    h.host.crash(h.host.current(), 3);
    let gave_up = h.until("failed", failed).await;
    assert_eq!(h.host.spawned(), 3, "no restart after the budget is spent");
    let State::Failed { reason } = &gave_up.state else {
        unreachable!()
    };
    assert!(reason.contains("crashed 3 times in a row"), "{reason}");
    assert!(
        gave_up
            .error
            .is_some_and(|e| e.hint.is_some() && e.stage.is_none()),
        "a running engine's crash is not a warm-up step's failure"
    );

    // A request gets the reason at once, rather than starting a fourth engine.
    let refused = h.supervisor.start().await.expect_err("failed");
    assert_eq!(refused.stage, Some(crate::problem::Stage::Failed));
    assert_eq!(h.host.spawned(), 3);

    // A restart by the user clears the failure and the count.
    h.supervisor.restart().await;
    let ready = h.ready().await;
    assert_eq!(ready.restarts.crashes, 0);
    assert_eq!(h.host.spawned(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_run_that_lasted_starts_the_crash_count_again() {
    let mut settings = settings();
    settings.supervisor.max_restarts = 1;
    let h = harness(settings);
    h.supervisor.start().await.expect("ready");

    // A crash, then a restart that stays up past healthy_reset_secs: the count is back to 0.
    h.host.crash(h.host.current(), 1);
    let ready = h
        .until("restarted", |s| {
            s.state == State::Ready && s.restarts.total == 1
        })
        .await;
    assert_eq!(ready.restarts.crashes, 1);
    tokio::time::sleep(Duration::from_secs(61)).await;
    assert_eq!(h.supervisor.status().borrow().restarts.crashes, 0);

    // So the next crash is the first in a row again: restarted, not given up on.
    h.host.crash(h.host.current(), 1);
    h.until("restarted again", |s| {
        s.state == State::Ready && s.restarts.total == 2
    })
    .await;

    // Two crashes in quick succession are over a budget of one.
    h.host.crash(h.host.current(), 1);
    h.until("failed", failed).await;
    assert_eq!(h.host.spawned(), 3);
}

#[tokio::test(start_paused = true)]
async fn an_engine_that_stops_answering_is_restarted_and_a_stubborn_one_killed() {
    let h = harness(settings());
    h.supervisor.start().await.expect("ready");
    let wedged = h.host.current();
    {
        let mut script = h.host.script();
        script.hung.insert(wedged);
        script.stubborn.insert(wedged);
    }
    let hung_at = Instant::now();

    // The first failed check marks it unhealthy; the third restarts it.
    let unhealthy = h.until("unhealthy", |s| s.state == State::Unhealthy).await;
    assert_eq!(unhealthy.health.consecutive_failures, 1);
    let ready = h
        .until("restarted", |s| {
            s.state == State::Ready && s.engine.pid != Some(wedged)
        })
        .await;
    assert_eq!(ready.restarts.total, 1);
    assert_eq!(ready.health.consecutive_failures, 0);
    assert!(
        hung_at.elapsed() >= Duration::from_secs(3 * 5),
        "three health intervals passed first"
    );

    // It ignored SIGTERM: SIGKILL followed after stop_grace_secs.
    let signals = h.host.signals_to(wedged);
    let term = signals
        .iter()
        .find(|(s, _)| *s == Signal::Term)
        .expect("SIGTERM");
    let kill = signals
        .iter()
        .find(|(s, _)| *s == Signal::Kill)
        .expect("SIGKILL");
    assert!(kill.1 - term.1 >= Duration::from_secs(4), "{signals:?}");
    let last_exit = ready.restarts.last_exit.expect("the exit is recorded");
    assert!(last_exit.contains("stopped by Murmur"), "{last_exit}");
}

#[tokio::test(start_paused = true)]
async fn an_idle_engine_is_unloaded_and_the_next_request_wakes_it() {
    let mut settings = settings();
    settings.supervisor.idle_unload_secs = 30;
    let h = harness(settings);
    h.supervisor.start().await.expect("ready");
    let first = h.host.current();

    // A request in flight keeps it loaded, however long it takes.
    let busy = h.supervisor.activity();
    tokio::time::sleep(Duration::from_secs(90)).await;
    assert_eq!(h.supervisor.status().borrow().state, State::Ready);
    drop(busy);

    // Then 30 s with nothing: unloaded, with a SIGTERM, and counted as no crash.
    let since = Instant::now();
    let idle = h.until("idle", |s| s.state == State::Idle).await;
    assert!(since.elapsed() >= Duration::from_secs(30));
    assert_eq!(h.host.signals_to(first)[0].0, Signal::Term);
    assert_eq!(idle.restarts.crashes, 0);
    assert_eq!(idle.engine.pid, None);

    // The next request starts a new process.
    h.supervisor.ensure_ready().await.expect("woken");
    assert_eq!(h.host.spawned(), 2);
}

#[tokio::test(start_paused = true)]
async fn idle_is_counted_from_ready_not_from_a_long_warm_up() {
    let mut settings = settings();
    settings.supervisor.idle_unload_secs = 30;
    settings.supervisor.startup_timeout_secs = 300;
    let h = harness(settings);
    h.host.script().first_words = Some(Duration::from_secs(60));
    h.supervisor.start().await.expect("ready");
    let ready = Instant::now();
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(h.supervisor.status().borrow().state, State::Ready);
    h.until("idle", |s| s.state == State::Idle).await;
    assert!(ready.elapsed() >= Duration::from_secs(30));
}

#[tokio::test(start_paused = true)]
async fn ready_means_it_spoke_and_one_that_cannot_speak_is_a_failed_start() {
    let h = harness(settings());
    h.supervisor.start().await.expect("ready");
    let first = h.host.current();
    let spoken = h.host.script().spoken.clone();
    assert_eq!(
        spoken,
        [first],
        "it was asked to speak before it was called ready"
    );

    // The next engine answers its probe but cannot speak: not ready, but failed, with why.
    let mute = FIRST_PID + 1;
    h.host.script().mute.insert(mute);
    h.supervisor.restart().await;
    let failed_start = h.until("failed", failed).await;
    assert_eq!(h.host.current(), mute);
    let State::Failed { reason } = &failed_start.state else {
        unreachable!()
    };
    assert!(reason.contains("could not speak"), "{reason}");
    assert!(reason.contains("inference thread is gone"), "{reason}");
    assert_eq!(
        h.host.signals_to(mute)[0].0,
        Signal::Term,
        "and it was stopped"
    );
    let refused = h.supervisor.start().await.expect_err("not ready");
    assert_eq!(refused.stage, Some(crate::problem::Stage::Failed));
}

#[tokio::test(start_paused = true)]
async fn an_engine_stuck_on_speech_is_restarted_though_its_probe_answers() {
    let h = harness(settings());
    let upstream = h.supervisor.start().await.expect("ready");
    let stuck = h.host.current();

    // The proxy saw a speech request get no audio; the probe would still say "fine".
    h.supervisor
        .report_hung(&upstream, Duration::from_secs(120));
    // Requests that arrive meanwhile wait for the new engine rather than the stuck one.
    let next = h.supervisor.ensure_ready().await.expect("a new engine");
    assert_ne!(next, upstream);
    assert_eq!(h.host.signals_to(stuck)[0].0, Signal::Term);
    let ready = h.ready().await;
    assert_eq!(ready.restarts.total, 1, "counted as a restart");
    assert_eq!(ready.restarts.crashes, 1, "against the crash budget");
    assert_ne!(ready.engine.pid, Some(stuck));

    // A report about an engine that is already gone changes nothing.
    h.supervisor
        .report_hung(&upstream, Duration::from_secs(120));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(h.host.spawned(), 2);
}
