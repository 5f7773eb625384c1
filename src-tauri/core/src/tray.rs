//! What the tray shows for a status: the icon, the tooltip and the menu's status line. Pure
//! functions of [`Status`], so the desktop shell only draws them (and tests need no GUI).

use crate::status::{State, Status, Unit};

/// The four tray icons (`icons/tray-*.png`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icon {
    Stopped,
    Warming,
    Ready,
    Failed,
}

impl Icon {
    pub fn of(status: &Status) -> Self {
        match status.state {
            State::Ready => Self::Ready,
            State::Provisioning | State::Starting | State::Backoff { .. } | State::Stopping => {
                Self::Warming
            }
            State::Unhealthy | State::Failed { .. } => Self::Failed,
            State::Stopped | State::Idle => Self::Stopped,
        }
    }
}

/// Whether the "Speech server" item is checked: the engine is on, or on its way.
pub fn server_on(status: &Status) -> bool {
    !matches!(
        status.state,
        State::Stopped | State::Idle | State::Failed { .. } | State::Stopping
    )
}

/// The menu's first line: "Ready — Piper · joe", "Warming up — installing packages 12/54",
/// "Failed — the engine exited with code 3".
pub fn status_line(status: &Status) -> String {
    let engine = &status.engine;
    let what = match &engine.voice {
        Some(voice) => format!("{} · {voice}", engine.name),
        None => engine.name.clone(),
    };
    let line = match &status.state {
        State::Ready => format!("Ready — {what}"),
        State::Provisioning | State::Starting => {
            let warmup = &status.warmup;
            let detail = match (&warmup.message, warmup.done, warmup.total) {
                (_, Some(done), Some(total)) if warmup.unit == Some(Unit::Packages) => {
                    format!("installing packages {done}/{total}")
                }
                (_, Some(done), Some(total)) if warmup.unit == Some(Unit::Bytes) => {
                    format!(
                        "{} {}/{} MB",
                        warmup.stage.as_deref().unwrap_or("downloading"),
                        done / 1_000_000,
                        total / 1_000_000
                    )
                }
                (Some(message), _, _) => message.clone(),
                _ => "starting".into(),
            };
            format!("Warming up — {detail}")
        }
        State::Unhealthy => format!("Not answering — {what}"),
        State::Backoff { attempt, .. } => format!("Restarting after a crash (attempt {attempt})"),
        State::Idle => format!("Idle — {what} wakes on the next request"),
        State::Stopping => "Stopping…".into(),
        State::Stopped => match &status.error {
            Some(error) => format!("Stopped — {}", first_line(&error.message)),
            None => "Stopped".into(),
        },
        State::Failed { reason } => format!("Failed — {}", first_line(reason)),
    };
    shorten(&line, 70)
}

/// The tooltip: the state in words.
pub fn tooltip(status: &Status) -> String {
    format!("Murmur: {}", status_line(status))
}

/// The tray menu's items, in order. Ids are what the shell gives its menu items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MenuItem {
    /// The disabled status line.
    Status,
    /// "Speech server": check item, on while the engine runs or warms up.
    Server,
    Restart,
    TestSpeech,
    Open,
    CopyApiUrl,
    OpenLogs,
    /// "Start at login": check item.
    StartAtLogin,
    Quit,
}

impl MenuItem {
    /// Every item, top to bottom; `None` is a separator.
    pub const LAYOUT: [Option<Self>; 12] = [
        Some(Self::Status),
        None,
        Some(Self::Server),
        Some(Self::Restart),
        Some(Self::TestSpeech),
        None,
        Some(Self::Open),
        Some(Self::CopyApiUrl),
        Some(Self::OpenLogs),
        Some(Self::StartAtLogin),
        None,
        Some(Self::Quit),
    ];

    pub fn id(self) -> &'static str {
        match self {
            Self::Status => "status",
            Self::Server => "server",
            Self::Restart => "restart",
            Self::TestSpeech => "test-speech",
            Self::Open => "open",
            Self::CopyApiUrl => "copy-api-url",
            Self::OpenLogs => "open-logs",
            Self::StartAtLogin => "start-at-login",
            Self::Quit => "quit",
        }
    }

    pub fn from_id(id: &str) -> Option<Self> {
        Self::LAYOUT
            .into_iter()
            .flatten()
            .find(|item| item.id() == id)
    }

    /// The label (the status line's is replaced as soon as a status is known).
    pub fn label(self) -> &'static str {
        match self {
            Self::Status => "Starting…",
            Self::Server => "Speech server",
            Self::Restart => "Restart engine",
            Self::TestSpeech => "Test speech",
            Self::Open => "Open Murmur…",
            Self::CopyApiUrl => "Copy API URL",
            Self::OpenLogs => "Open logs folder",
            Self::StartAtLogin => "Start at login",
            Self::Quit => "Quit Murmur",
        }
    }

    pub fn is_check(self) -> bool {
        matches!(self, Self::Server | Self::StartAtLogin)
    }

    /// Whether the item can be chosen while `status` holds (engine actions need an engine
    /// Murmur runs; `managed` is false for an external one).
    pub fn enabled(self, status: &Status, managed: bool) -> bool {
        match self {
            Self::Status => false,
            Self::Server => managed,
            Self::Restart => managed && !matches!(status.state, State::Stopping),
            Self::TestSpeech => !matches!(status.state, State::Stopping),
            _ => true,
        }
    }
}

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

fn first_line(text: &str) -> &str {
    text.split(['\n', ';']).next().unwrap_or(text).trim()
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max - 1).collect();
        format!("{}…", cut.trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{ErrorInfo, Warmup};

    fn status(state: State) -> Status {
        let mut status = Status::stopped("piper", "Piper", 3);
        status.engine.voice = Some("joe".into());
        status.state = state;
        status
    }

    #[test]
    fn each_state_reads_as_the_menu_shows_it() {
        assert_eq!(status_line(&status(State::Ready)), "Ready — Piper · joe");
        let mut warming = status(State::Provisioning);
        warming.warmup = Warmup {
            stage: Some("packages".into()),
            done: Some(12),
            total: Some(54),
            unit: Some(Unit::Packages),
            message: Some("Resolved 54 packages".into()),
        };
        assert_eq!(
            status_line(&warming),
            "Warming up — installing packages 12/54"
        );
        let failed = status(State::Failed {
            reason:
                "the engine exited with code 3; it crashed 4 times in a row; last output:\nboom"
                    .into(),
        });
        assert_eq!(
            status_line(&failed),
            "Failed — the engine exited with code 3"
        );
        let mut stopped = status(State::Stopped);
        assert_eq!(status_line(&stopped), "Stopped");
        stopped.error = Some(ErrorInfo {
            message: "cannot prepare the engine's Python environment: offline".into(),
            hint: None,
            stage: Some("python".into()),
        });
        assert!(status_line(&stopped).starts_with("Stopped — cannot prepare"));
        assert_eq!(
            status_line(&status(State::Backoff {
                attempt: 2,
                in_ms: 10
            })),
            "Restarting after a crash (attempt 2)"
        );
        assert_eq!(
            status_line(&status(State::Starting)),
            "Warming up — starting"
        );
        let mut model = status(State::Provisioning);
        model.warmup = Warmup {
            stage: Some("downloading the model".into()),
            done: Some(12_500_000),
            total: Some(340_000_000),
            unit: Some(Unit::Bytes),
            message: None,
        };
        assert_eq!(
            status_line(&model),
            "Warming up — downloading the model 12/340 MB"
        );
        let mut waiting = status(State::Starting);
        waiting.warmup.message = Some("waiting for the engine to answer".into());
        assert_eq!(
            status_line(&waiting),
            "Warming up — waiting for the engine to answer"
        );
        assert_eq!(
            status_line(&status(State::Unhealthy)),
            "Not answering — Piper · joe"
        );
        assert_eq!(
            status_line(&status(State::Idle)),
            "Idle — Piper · joe wakes on the next request"
        );
        assert_eq!(status_line(&status(State::Stopping)), "Stopping…");
    }

    #[test]
    fn icons_and_the_toggle_follow_the_state() {
        assert_eq!(Icon::of(&status(State::Ready)), Icon::Ready);
        assert_eq!(Icon::of(&status(State::Starting)), Icon::Warming);
        assert_eq!(
            Icon::of(&status(State::Failed {
                reason: String::new()
            })),
            Icon::Failed
        );
        assert_eq!(Icon::of(&status(State::Idle)), Icon::Stopped);
        assert!(server_on(&status(State::Ready)) && server_on(&status(State::Starting)));
        assert!(
            !server_on(&status(State::Stopped))
                && !server_on(&status(State::Failed {
                    reason: String::new()
                }))
        );
    }

    #[test]
    fn long_lines_are_shortened() {
        let failed = status(State::Failed {
            reason: "x".repeat(200),
        });
        assert_eq!(status_line(&failed).chars().count(), 70);
        assert!(tooltip(&failed).starts_with("Murmur: Failed — "));
    }

    #[test]
    fn menu_ids_round_trip_and_only_the_toggles_are_checks() {
        for item in MenuItem::LAYOUT.into_iter().flatten() {
            assert_eq!(MenuItem::from_id(item.id()), Some(item));
        }
        assert_eq!(MenuItem::from_id("nonsense"), None);
        let checks: Vec<_> = MenuItem::LAYOUT
            .into_iter()
            .flatten()
            .filter(|i| i.is_check())
            .collect();
        assert_eq!(checks, [MenuItem::Server, MenuItem::StartAtLogin]);
        let ready = status(State::Ready);
        assert!(!MenuItem::Status.enabled(&ready, true));
        assert!(MenuItem::Restart.enabled(&ready, true));
        assert!(!MenuItem::Restart.enabled(&ready, false));
        assert!(!MenuItem::Server.enabled(&ready, false));
        assert!(MenuItem::CopyApiUrl.enabled(&ready, false));
    }

    #[test]
    fn a_failure_is_announced_once_per_failure() {
        let mut notifier = Notifier::default();
        assert!(notifier.observe(&status(State::Ready)).is_empty());
        let mut failed = status(State::Failed {
            reason: "the engine exited with code 3; it crashed 4 times".into(),
        });
        failed.error = Some(ErrorInfo {
            message: "x".into(),
            hint: Some("see the engine log".into()),
            stage: None,
        });
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
