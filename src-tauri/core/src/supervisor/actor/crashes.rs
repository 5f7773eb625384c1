//! When the engine dies or hangs: the crash budget, a restart after a pause, or giving up.

use super::*;

impl Actor {
    /// A speech request got no audio for `waited` while the engine was ready: its inference
    /// is stuck though its probe may still answer. Restart it (within the crash budget).
    pub(super) fn on_hung(&mut self, port: u16, waited: Duration) {
        let Phase::Ready { run, .. } = &self.phase else {
            return;
        };
        if run.port != port {
            return;
        }
        let uptime = run.started.elapsed();
        let why = format!(
            "a speech request got no audio in {} s (proxy.first_audio_timeout_secs)",
            waited.as_secs()
        );
        tracing::warn!("the engine is stuck: {why}");
        self.log
            .line(&format!("[murmur] engine stuck: {why}; restarting it"));
        self.health.consecutive_failures += 1;
        match self.spend_crash(uptime) {
            Budget::Retry(_) => self.begin_stop(Then::Restart, &why),
            Budget::Spent => {
                let reason = self.spent_reason(&format!("the engine is stuck: {why}"));
                self.begin_stop(Then::Fail(reason), &why);
            }
        }
    }

    /// The engine died (or hung) after `uptime`: restart it after a pause while the crash
    /// budget lasts, else give up.
    pub(super) fn on_crash(&mut self, message: String, uptime: Duration) {
        match self.spend_crash(uptime) {
            Budget::Retry(attempt) => {
                let delay = Duration::from_millis(self.settings.supervisor.restart_delay_ms);
                let until = crate::time::later_tokio(Instant::now(), delay);
                self.set_phase(Phase::Backoff { until, attempt }, &message);
            }
            Budget::Spent => {
                let reason = self.spent_reason(&message);
                self.give_up(Problem::new(reason));
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

    /// The one give-up path: the waiters and the status get `reason`, and the engine stays
    /// down until the user restarts it or changes its settings.
    pub(super) fn give_up(&mut self, mut reason: Problem) {
        if reason.hint.is_none() {
            reason.hint =
                Some("see the engine log, then restart the engine or change its settings".into());
        }
        let message = reason.message.clone();
        self.report(reason.at(Stage::Failed));
        self.set_phase(Phase::Failed(message), "gave up");
    }
}
