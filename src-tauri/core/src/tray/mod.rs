//! What the tray shows for a status: the icon, the tooltip, the menu's status line and (in
//! [`Notifier`]) the desktop notifications. Pure functions of [`Status`], so the desktop shell
//! only draws them (and tests need no GUI).

mod notify;

pub use notify::{Notice, Notifier};

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

/// Whether the "Listening" item is checked: the transcription engine is on, or on its way
/// (unloaded after idle is off: it loads on the next transcription).
pub fn listening_on(status: &Status) -> bool {
    status.transcription.as_deref().is_some_and(server_on)
}

/// The transcription engine in a few words: "Whisper base (unloaded)", "Whisper base
/// (ready)", "Whisper base (warming up 40/145 MB)".
pub fn listening_words(transcription: &Status) -> String {
    let engine = &transcription.engine;
    let what = match &engine.model {
        Some(model) => format!("{} {model}", engine.name),
        None => engine.name.clone(),
    };
    let warmup = &transcription.warmup;
    let state = match &transcription.state {
        State::Ready => "ready".to_string(),
        State::Provisioning | State::Starting => match (warmup.done, warmup.total) {
            (Some(done), Some(total)) if warmup.unit == Some(Unit::Bytes) => {
                format!("warming up {}/{} MB", done / 1_000_000, total / 1_000_000)
            }
            _ => "warming up".into(),
        },
        State::Unhealthy => "not answering".into(),
        State::Backoff { .. } => "restarting".into(),
        State::Idle => "unloaded".into(),
        State::Stopping => "stopping".into(),
        State::Stopped if transcription.error.is_some() => "stopped".into(),
        State::Stopped => "not loaded".into(),
        State::Failed { .. } => "failed".into(),
    };
    format!("{what} ({state})")
}

/// The menu's first line: "Ready — Piper · joe", "Warming up — installing packages 12/54",
/// "Failed — the engine exited with code 3"; with transcription on, its engine after:
/// "Ready — Piper · joe · listening: Whisper base (unloaded)".
pub fn status_line(status: &Status) -> String {
    let speech = speech_line(status);
    match status.transcription.as_deref() {
        Some(transcription) => format!(
            "{} · listening: {}",
            shorten(&speech, 60),
            listening_words(transcription)
        ),
        None => shorten(&speech, 70),
    }
}

fn speech_line(status: &Status) -> String {
    let engine = &status.engine;
    let what = match &engine.voice {
        Some(voice) => format!("{} · {voice}", engine.name),
        None => engine.name.clone(),
    };
    match &status.state {
        State::Ready => format!("Ready — {what}"),
        State::Provisioning | State::Starting => {
            let warmup = &status.warmup;
            let detail = match (&warmup.message, warmup.done, warmup.total) {
                (_, Some(done), Some(total)) if warmup.unit == Some(Unit::Packages) => {
                    format!("installing packages {done}/{total}")
                }
                (_, Some(done), Some(total)) if warmup.unit == Some(Unit::Bytes) => {
                    let what = warmup.stage.map_or("", |stage| stage.label());
                    format!(
                        "downloading {} {}/{} MB",
                        what.to_lowercase(),
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
    }
}

/// The tooltip: the state in words.
pub fn tooltip(status: &Status) -> String {
    format!("Murmur: {}", status_line(status))
}

/// The tooltip, with where Home Assistant reaches Murmur when its Wyoming server runs.
pub fn tooltip_with(status: &Status, wyoming_url: Option<&str>) -> String {
    match wyoming_url {
        Some(url) => format!("{}\nHome Assistant (Wyoming): {url}", tooltip(status)),
        None => tooltip(status),
    }
}

/// The tray menu's items, in order. Ids are what the shell gives its menu items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MenuItem {
    /// The disabled status line.
    Status,
    /// "Speech server": check item, on while the engine runs or warms up.
    Server,
    /// "Listening": check item, on while the transcription engine runs or warms up.
    Listening,
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
    pub const LAYOUT: [Option<Self>; 13] = [
        Some(Self::Status),
        None,
        Some(Self::Server),
        Some(Self::Listening),
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
            Self::Listening => "listening",
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
            Self::Listening => "Listening",
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
        matches!(self, Self::Server | Self::Listening | Self::StartAtLogin)
    }

    /// Whether the item can be chosen while `status` holds (engine actions need an engine
    /// Murmur runs; `managed` is false for an external one).
    pub fn enabled(self, status: &Status, managed: bool) -> bool {
        match self {
            Self::Status => false,
            Self::Server => managed,
            // The transcription engine Murmur runs (not off, not an external server).
            Self::Listening => status
                .transcription
                .as_deref()
                .is_some_and(|t| t.engine.id != "external" && !matches!(t.state, State::Stopping)),
            Self::Restart => managed && !matches!(status.state, State::Stopping),
            Self::TestSpeech => !matches!(status.state, State::Stopping),
            _ => true,
        }
    }
}

/// The first clause of a reason (up to a line break or `;`).
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

    #[test]
    fn the_tooltip_names_the_wyoming_address_when_it_runs() {
        let status = Status::stopped("piper", "Piper", 0);
        assert_eq!(tooltip_with(&status, None), tooltip(&status));
        let with = tooltip_with(&status, Some("tcp://127.0.0.1:10300"));
        assert!(with.starts_with(&tooltip(&status)));
        assert!(with.ends_with("\nHome Assistant (Wyoming): tcp://127.0.0.1:10300"));
    }
    use crate::problem::{Problem, Stage};
    use crate::status::Warmup;

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
            stage: Some(Stage::Packages),
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
        stopped.error = Some(
            Problem::new("cannot prepare the engine's Python environment: offline")
                .at(Stage::Python),
        );
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
            stage: Some(Stage::Model),
            done: Some(12_500_000),
            total: Some(340_000_000),
            unit: Some(Unit::Bytes),
            message: None,
        };
        assert_eq!(
            status_line(&model),
            "Warming up — downloading model 12/340 MB"
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
        assert_eq!(
            checks,
            [
                MenuItem::Server,
                MenuItem::Listening,
                MenuItem::StartAtLogin
            ]
        );
        let ready = status(State::Ready);
        assert!(!MenuItem::Status.enabled(&ready, true));
        assert!(MenuItem::Restart.enabled(&ready, true));
        assert!(!MenuItem::Restart.enabled(&ready, false));
        assert!(!MenuItem::Server.enabled(&ready, false));
        assert!(MenuItem::CopyApiUrl.enabled(&ready, false));
        assert!(
            !MenuItem::Listening.enabled(&ready, true),
            "transcription off"
        );
    }

    fn listening(state: State) -> Status {
        let mut speech = status(State::Ready);
        let mut t = Status::stopped("whisper", "Whisper", 3);
        t.engine.model = Some("base".into());
        t.state = state;
        speech.transcription = Some(Box::new(t));
        speech
    }

    #[test]
    fn the_status_line_names_both_engines() {
        assert_eq!(
            status_line(&listening(State::Idle)),
            "Ready — Piper · joe · listening: Whisper base (unloaded)"
        );
        assert_eq!(
            status_line(&listening(State::Stopped)),
            "Ready — Piper · joe · listening: Whisper base (not loaded)"
        );
        assert_eq!(
            status_line(&listening(State::Ready)),
            "Ready — Piper · joe · listening: Whisper base (ready)"
        );
        let mut fetching = listening(State::Provisioning);
        if let Some(t) = fetching.transcription.as_deref_mut() {
            t.warmup = Warmup {
                stage: Some(Stage::Model),
                done: Some(40_000_000),
                total: Some(145_000_000),
                unit: Some(Unit::Bytes),
                message: None,
            };
        }
        assert!(status_line(&fetching).ends_with("Whisper base (warming up 40/145 MB)"));
        assert!(listening_on(&listening(State::Ready)) && listening_on(&fetching));
        assert!(!listening_on(&listening(State::Idle)) && !listening_on(&status(State::Ready)));
        assert!(MenuItem::Listening.enabled(&listening(State::Idle), true));
        let mut external = listening(State::Ready);
        if let Some(t) = external.transcription.as_deref_mut() {
            t.engine.id = "external".into();
        }
        assert!(!MenuItem::Listening.enabled(&external, true));
        // A long speech line gives way, the listening part stays whole.
        let failed = listening(State::Idle);
        let mut failed = failed;
        failed.state = State::Failed {
            reason: "x".repeat(200),
        };
        assert!(status_line(&failed).ends_with("listening: Whisper base (unloaded)"));
    }
}
