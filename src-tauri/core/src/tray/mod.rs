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

/// Whether the "Transcription" item is checked: the transcription engine is on, or on its way
/// (unloaded after idle is off: it loads on the next transcription).
pub fn transcription_on(status: &Status) -> bool {
    status.of("transcription").is_some_and(server_on)
}

/// The transcription engine in a few words: "Whisper base (unloaded)", "Whisper base
/// (ready)", "Whisper base (warming up 40/145 MB)".
pub fn transcription_words(transcription: &Status) -> String {
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
/// "Ready — Piper · joe · transcription: Whisper base (unloaded)".
pub fn status_line(status: &Status) -> String {
    let speech = speech_line(status);
    match status.of("transcription") {
        Some(transcription) => format!(
            "{} · transcription: {}",
            shorten(&speech, 60),
            transcription_words(transcription)
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
    /// "Transcription": check item, on while the transcription engine runs or warms up.
    Transcription,
    Restart,
    TestSpeech,
    /// The disabled line naming the desk's shortcuts (the desktop app sets its text).
    DeskKeys,
    ReadClipboard,
    StopReading,
    Open,
    CopyApiUrl,
    OpenLogs,
    /// "Start at login": check item.
    StartAtLogin,
    Quit,
}

impl MenuItem {
    /// Every item, top to bottom; `None` is a separator.
    pub const LAYOUT: [Option<Self>; 17] = [
        Some(Self::Status),
        None,
        Some(Self::Server),
        Some(Self::Transcription),
        Some(Self::Restart),
        Some(Self::TestSpeech),
        None,
        Some(Self::DeskKeys),
        Some(Self::ReadClipboard),
        Some(Self::StopReading),
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
            Self::Transcription => "transcription",
            Self::Restart => "restart",
            Self::TestSpeech => "test-speech",
            Self::DeskKeys => "desk-keys",
            Self::ReadClipboard => "read-clipboard",
            Self::StopReading => "stop-reading",
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
            Self::Transcription => "Transcription",
            Self::Restart => "Restart engine",
            Self::TestSpeech => "Test speech",
            Self::DeskKeys => "Dictation and read aloud are off",
            Self::ReadClipboard => "Read the clipboard aloud",
            Self::StopReading => "Stop reading",
            Self::Open => "Open Murmur…",
            Self::CopyApiUrl => "Copy API URL",
            Self::OpenLogs => "Open logs folder",
            Self::StartAtLogin => "Start at login",
            Self::Quit => "Quit Murmur",
        }
    }

    pub fn is_check(self) -> bool {
        matches!(
            self,
            Self::Server | Self::Transcription | Self::StartAtLogin
        )
    }

    /// Whether the item can be chosen while `status` holds (engine actions need an engine
    /// Murmur runs; `managed` is false for an external one).
    pub fn enabled(self, status: &Status, managed: bool) -> bool {
        match self {
            Self::Status | Self::DeskKeys => false,
            Self::Server => managed,
            // The transcription engine Murmur runs (not off, not an external server).
            Self::Transcription => status
                .of("transcription")
                .is_some_and(|t| t.engine.id != "external" && !matches!(t.state, State::Stopping)),
            Self::Restart => managed && !matches!(status.state, State::Stopping),
            Self::TestSpeech => !matches!(status.state, State::Stopping),
            _ => true,
        }
    }
}

/// The line naming the desk's shortcuts, as the settings have them.
pub fn desk_keys(settings: &crate::config::Settings) -> String {
    let (dictation, read) = (&settings.dictation, &settings.read_aloud);
    let dictate = match dictation.mode {
        crate::config::DictationMode::Hold => format!("Dictate: hold {}", dictation.shortcut),
        crate::config::DictationMode::Toggle => format!("Dictate: press {}", dictation.shortcut),
    };
    let read = format!("Read selection: {}", read.shortcut);
    match (dictation.enabled, settings.read_aloud.enabled) {
        (true, true) => format!("{dictate} · {read}"),
        (true, false) => dictate,
        (false, true) => read,
        (false, false) => MenuItem::DeskKeys.label().into(),
    }
}

/// What the tray shows beside its icon while someone dictates: a level meter and the last
/// words heard.
pub fn listening_title(words: &str, level: f32) -> String {
    let bars = (level.clamp(0.0, 1.0) * 5.0).round() as usize;
    let meter: String = "▮".repeat(bars) + &"▯".repeat(5 - bars);
    let words = words.trim();
    if words.is_empty() {
        return format!("● Listening {meter}");
    }
    let count = words.chars().count();
    let tail: String = words.chars().skip(count.saturating_sub(40)).collect();
    let ellipsis = if count > 40 { "…" } else { "" };
    format!("● {meter} {ellipsis}{tail}")
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
mod tests;
