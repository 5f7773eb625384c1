//! When the engine's state is worth a desktop notification, and what it says.

use super::first_line;
use crate::status::{State, Status};

/// A desktop notification to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub title: String,
    pub body: String,
}

/// Decides when the engine's state is worth a notification: on entering Failed, and when a
/// memory warning appears (once; again only after it has cleared). Fed every status change.
#[derive(Debug, Default)]
pub struct Notifier {
    failed: bool,
    memory_warned: bool,
}

impl Notifier {
    pub fn observe(&mut self, status: &Status) -> Vec<Notice> {
        let mut notices = Vec::new();
        let failed = matches!(status.state, State::Failed { .. });
        if failed && !self.failed {
            let reason = match &status.state {
                State::Failed { reason } => first_line(reason).to_string(),
                _ => String::new(),
            };
            let hint = status
                .error
                .as_ref()
                .and_then(|e| e.hint.as_deref())
                .map(|hint| format!(" {}", sentence(hint)))
                .unwrap_or_default();
            notices.push(Notice {
                title: format!("{} has stopped working", status.engine.name),
                body: format!("{reason}.{hint}"),
            });
        }
        self.failed = failed;
        match &status.memory.warning {
            Some(warning) if !self.memory_warned => {
                self.memory_warned = true;
                notices.push(Notice {
                    title: "Memory is short".into(),
                    body: warning.clone(),
                });
            }
            Some(_) => {}
            None => self.memory_warned = false,
        }
        notices
    }
}

/// `text` with a capital first letter and a full stop.
fn sentence(text: &str) -> String {
    let mut chars = text.trim().chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    out.extend(chars);
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::Problem;

    fn status(state: State) -> Status {
        let mut status = Status::stopped("piper", "Piper", 3);
        status.state = state;
        status
    }

    #[test]
    fn a_failure_is_announced_once_per_failure() {
        let mut notifier = Notifier::default();
        assert!(notifier.observe(&status(State::Ready)).is_empty());
        let mut failed = status(State::Failed {
            reason: "the engine exited with code 3; it crashed 4 times".into(),
        });
        failed.error = Some(Problem::new("x").hint("see the engine log"));
        let notices = notifier.observe(&failed);
        assert_eq!(
            notices,
            [Notice {
                title: "Piper has stopped working".into(),
                body: "the engine exited with code 3. See the engine log.".into(),
            }]
        );
        assert!(
            notifier.observe(&failed).is_empty(),
            "no repeat while it stays failed"
        );
        assert!(notifier.observe(&status(State::Starting)).is_empty());
        assert_eq!(notifier.observe(&failed).len(), 1, "a new failure is news");
    }

    #[test]
    fn a_memory_warning_is_announced_when_it_appears_not_on_every_tick() {
        let mut notifier = Notifier::default();
        let mut short = status(State::Ready);
        short.memory.warning = Some("600 MB available, Kokoro needs about 900 MB".into());
        let notices = notifier.observe(&short);
        assert_eq!(notices.len(), 1);
        assert_eq!(notices[0].title, "Memory is short");
        assert_eq!(
            notices[0].body,
            "600 MB available, Kokoro needs about 900 MB"
        );
        for _ in 0..5 {
            assert!(notifier.observe(&short).is_empty());
        }
        assert!(notifier.observe(&status(State::Ready)).is_empty());
        assert_eq!(notifier.observe(&short).len(), 1, "again after it cleared");
    }
}
