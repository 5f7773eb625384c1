//! When the engine dies, hangs or stops answering: the crash budget, a restart, or giving up.

use super::*;

/// What the status suggests when Murmur gives up and the problem says nothing better.
const GIVE_UP_HINT: &str = "see the engine log, then restart the engine or change its settings";

impl Actor {
    /// A speech request got no audio for `waited` while the engine was ready: its inference
    /// is stuck though its probe may still answer.
    pub(super) fn on_hung(&mut self, phase: Phase, port: u16, waited: Duration) -> Next {
        match phase {
            Phase::Ready { ref run, .. } if run.port == port => {
                let why = format!(
                    "a speech request got no audio in {} s (proxy.first_audio_timeout_secs)",
                    waited.as_secs()
                );
                tracing::warn!("the engine is stuck: {why}");
                self.log
                    .line(&format!("[murmur] engine stuck: {why}; restarting it"));
                self.restart_or_fail(phase, &format!("the engine is stuck: {why}"), &why)
            }
            other => other.stay(),
        }
    }

    /// The running engine is broken (stuck, or not answering its health checks): stop it,
    /// then start it again while the crash budget lasts, else give up saying `message`.
    pub(super) fn restart_or_fail(&mut self, phase: Phase, message: &str, why: &str) -> Next {
        let uptime = phase
            .run()
            .map_or(Duration::ZERO, |run| run.started.elapsed());
        match self.spend_crash(uptime) {
            Budget::Retry(_) => self.begin_stop(phase, Then::Restart, why),
            Budget::Spent => {
                let problem = Problem::new(self.spent_reason(message));
                self.begin_stop(phase, Then::Fail(problem), why)
            }
        }
    }

    /// The engine died after `uptime` (at warm-up step `stage`, if it was warming up): start
    /// it again after a pause while the crash budget lasts (the `waiting` requests wait on),
    /// else give up.
    pub(super) fn after_crash(
        &mut self,
        message: String,
        uptime: Duration,
        stage: Option<Stage>,
        waiting: Waiting,
    ) -> Next {
        match self.spend_crash(uptime) {
            Budget::Retry(attempt) => {
                let delay = Duration::from_millis(self.settings.supervisor.restart_delay_ms);
                let until = crate::time::later_tokio(Instant::now(), delay);
                Phase::Backoff {
                    until,
                    attempt,
                    waiting,
                }
                .because(message)
            }
            Budget::Spent => {
                let problem = Problem::new(self.spent_reason(&message)).with_stage(stage);
                self.give_up(problem, waiting)
            }
        }
    }

    /// Count a crash against the budget: `max_restarts` in a row, where a run that lasted
    /// `healthy_reset_secs` starts the count again. The one place the budget is kept.
    pub(super) fn spend_crash(&mut self, uptime: Duration) -> Budget {
        let sup = &self.settings.supervisor;
        if uptime >= Duration::from_secs(sup.healthy_reset_secs) {
            self.crashes = 0;
        }
        self.crashes += 1;
        if sup.restart_on_crash && self.crashes <= sup.max_restarts {
            self.total_restarts += 1;
            Budget::Retry(self.crashes)
        } else {
            Budget::Spent
        }
    }

    /// Why Murmur gave up: `message`, how often it crashed, and its last output.
    pub(super) fn spent_reason(&self, message: &str) -> String {
        if self.settings.supervisor.restart_on_crash {
            let times = match self.crashes {
                1 => "once".to_string(),
                2 => "twice in a row".to_string(),
                n => format!("{n} times in a row"),
            };
            format!("{message}; it crashed {times}{}", self.stderr_tail())
        } else {
            format!("{message}{}", self.stderr_tail())
        }
    }

    /// The one give-up path: the `waiting` requests get `problem` (at [`Stage::Failed`]), the
    /// status shows it (at the warm-up step it happened at), and the engine stays down until
    /// the user restarts it or changes its settings.
    pub(super) fn give_up(&mut self, problem: Problem, waiting: Waiting) -> Next {
        let problem = problem.or_hint(GIVE_UP_HINT);
        waiting.fail(&problem.clone().at(Stage::Failed));
        Phase::Failed(problem).because("gave up")
    }
}
