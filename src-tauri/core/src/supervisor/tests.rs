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

#[tokio::test(start_paused = true)]
async fn a_port_reported_dead_is_handed_to_no_one_until_a_probe_answers() {
    let h = harness(settings());
    let first = h.supervisor.start().await.expect("ready");

    // Reported unreachable, but alive: the next request waits for one probe and gets it back.
    h.supervisor.report_unreachable(&first);
    let again = h.supervisor.ensure_ready().await.expect("still ready");
    assert_eq!(again, first);
    assert_eq!(h.host.spawned(), 1);

    // Reported unreachable and wedged: no request gets that port again; the failed checks
    // restart the engine, and the waiting request gets the new one.
    let wedged = h.host.current();
    h.host.script().hung.insert(wedged);
    h.supervisor.report_unreachable(&first);
    let waited = Instant::now();
    let fresh = h.supervisor.ensure_ready().await.expect("restarted");
    assert_ne!(fresh, first, "a new engine, on a new port");
    assert_eq!(h.host.spawned(), 2);
    assert!(
        waited.elapsed() >= Duration::from_secs(2),
        "it waited for the probes"
    );
}

/// A ready engine is handed out without a message to the actor: the answer is there on the
/// first poll. A port reported unreachable (or hung) goes back to asking the actor, and is
/// offered again once a probe has cleared it; a stopped engine is offered to no one.
#[tokio::test(start_paused = true)]
async fn a_ready_engine_is_found_without_asking_the_actor() {
    use futures_util::FutureExt;
    let h = harness(settings());
    let cold = h.supervisor.ensure_ready().now_or_never();
    assert!(cold.is_none(), "a cold engine is the actor's to start");
    let first = h.supervisor.start().await.expect("ready");
    let fast = h.supervisor.ensure_ready().now_or_never();
    assert_eq!(fast.map(|r| r.expect("ready")), Some(first.clone()));

    h.supervisor.report_unreachable(&first);
    assert!(
        h.supervisor.ensure_ready().now_or_never().is_none(),
        "a suspect port waits for the actor"
    );
    let again = h
        .supervisor
        .ensure_ready()
        .await
        .expect("the probe cleared it");
    assert_eq!(again, first);
    let fast = h.supervisor.ensure_ready().now_or_never();
    assert_eq!(fast.map(|r| r.expect("ready")), Some(first.clone()));

    h.supervisor.stop().await;
    assert!(h.supervisor.ensure_ready().now_or_never().is_none());
}

#[tokio::test(start_paused = true)]
async fn new_settings_relaunch_the_engine_only_when_its_command_changed() {
    let h = harness(settings());
    h.supervisor.start().await.expect("ready");

    // A request default: applies to the next request, nothing restarts.
    let mut faster = settings();
    faster.engine.speed = 1.5;
    h.settings.set(faster.clone());
    h.supervisor.settled().await;
    assert_eq!(h.supervisor.status().borrow().state, State::Ready);
    assert_eq!(h.host.spawned(), 1);

    // Its command: stopped and launched again, counted as a restart.
    let mut other = faster;
    other.engine.custom.command = vec!["other-engine".into(), "{port}".into()];
    h.settings.set(other.clone());
    h.supervisor.settled().await;
    let relaunching = h.supervisor.status().borrow().state.clone();
    assert!(
        matches!(relaunching, State::Stopping | State::Starting),
        "the relaunch has begun when settled() returns: {relaunching:?}"
    );
    let ready = h
        .until("relaunched", |s| {
            s.state == State::Ready && s.restarts.total == 1
        })
        .await;
    assert_eq!(h.host.spawned(), 2);
    assert_eq!(ready.restarts.crashes, 0);

    // A failed engine is cleared by a settings change: stopped, no error, started on demand.
    h.host.script().mute.insert(FIRST_PID + 2);
    h.supervisor.restart().await;
    h.until("failed", failed).await;
    let mut fixed = other;
    fixed.engine.speed = 1.0;
    h.settings.set(fixed);
    h.supervisor.settled().await;
    let cleared = h.supervisor.status().borrow().clone();
    assert_eq!(cleared.state, State::Stopped);
    assert_eq!(cleared.error, None);
}

#[tokio::test(start_paused = true)]
async fn a_start_that_never_answers_times_out_and_says_at_which_step() {
    let mut settings = settings();
    settings.supervisor.startup_timeout_secs = 10;
    let h = harness(settings);
    h.host.script().hung.insert(FIRST_PID);

    let started = Instant::now();
    let refused = h.supervisor.start().await.expect_err("timed out");
    assert!(started.elapsed() >= Duration::from_secs(10));
    assert_eq!(refused.stage, Some(crate::problem::Stage::Starting));
    assert!(
        refused.message.contains("within 10 s"),
        "{}",
        refused.message
    );
    assert!(
        refused
            .hint
            .is_some_and(|h| h.contains("startup_timeout_secs"))
    );

    let stopped = h.until("stopped", |s| s.state == State::Stopped).await;
    let shown = stopped.error.expect("the status says why");
    assert_eq!(shown.stage, Some(crate::problem::Stage::Server));
    assert_eq!(h.host.signals_to(FIRST_PID)[0].0, Signal::Term);

    // The next request tries again (a timeout is not a crash).
    h.host.script().hung.clear();
    h.supervisor.start().await.expect("ready the second time");
    assert_eq!(h.supervisor.status().borrow().error, None);
}

#[tokio::test(start_paused = true)]
async fn stop_fails_the_waiting_requests_and_shutdown_ends_the_actor() {
    let mut settings = settings();
    settings.supervisor.startup_timeout_secs = 60;
    let h = harness(settings);
    h.host.script().hung.insert(FIRST_PID);

    // A request waiting on a start that a stop ends is told so.
    let supervisor = h.supervisor.clone();
    let waiting = tokio::spawn(async move { supervisor.start().await });
    h.until("starting", |s| s.state == State::Starting).await;
    h.supervisor.stop().await;
    let refused = waiting.await.expect("joined").expect_err("stopped");
    assert_eq!(refused.message, "the engine was stopped");
    assert_eq!(h.supervisor.status().borrow().state, State::Stopped);

    // Shutdown stops the engine and ends the actor: later requests are refused at once.
    h.host.script().hung.clear();
    h.supervisor.start().await.expect("ready");
    let pid = h.host.current();
    h.supervisor.shutdown().await;
    assert_eq!(h.host.signals_to(pid)[0].0, Signal::Term);
    let after = h.supervisor.start().await.expect_err("gone");
    assert_eq!(after.message, "Murmur is shutting down");
    assert_eq!(h.host.spawned(), 2);
}
