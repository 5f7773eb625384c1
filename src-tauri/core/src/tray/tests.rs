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
        reason: "the engine exited with code 3; it crashed 4 times in a row; last output:\nboom"
            .into(),
    });
    assert_eq!(
        status_line(&failed),
        "Failed — the engine exited with code 3"
    );
    let mut stopped = status(State::Stopped);
    assert_eq!(status_line(&stopped), "Stopped");
    stopped.error = Some(
        Problem::new("cannot prepare the engine's Python environment: offline").at(Stage::Python),
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
            MenuItem::Transcription,
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
        !MenuItem::Transcription.enabled(&ready, true),
        "transcription off"
    );
}

fn transcribing(state: State) -> Status {
    let mut speech = status(State::Ready);
    let mut t = Status::stopped("whisper", "Whisper", 3);
    t.engine.model = Some("base".into());
    t.state = state;
    speech.engines = vec![crate::status::Listed {
        capability: "transcription".into(),
        status: t,
    }];
    speech
}

#[test]
fn the_status_line_names_both_engines() {
    assert_eq!(
        status_line(&transcribing(State::Idle)),
        "Ready — Piper · joe · transcription: Whisper base (unloaded)"
    );
    assert_eq!(
        status_line(&transcribing(State::Stopped)),
        "Ready — Piper · joe · transcription: Whisper base (not loaded)"
    );
    assert_eq!(
        status_line(&transcribing(State::Ready)),
        "Ready — Piper · joe · transcription: Whisper base (ready)"
    );
    let mut fetching = transcribing(State::Provisioning);
    if let Some(t) = fetching
        .engines
        .iter_mut()
        .find(|e| e.capability == "transcription")
        .map(|e| &mut e.status)
    {
        t.warmup = Warmup {
            stage: Some(Stage::Model),
            done: Some(40_000_000),
            total: Some(145_000_000),
            unit: Some(Unit::Bytes),
            message: None,
        };
    }
    assert!(status_line(&fetching).ends_with("Whisper base (warming up 40/145 MB)"));
    assert!(transcription_on(&transcribing(State::Ready)) && transcription_on(&fetching));
    assert!(
        !transcription_on(&transcribing(State::Idle)) && !transcription_on(&status(State::Ready))
    );
    assert!(MenuItem::Transcription.enabled(&transcribing(State::Idle), true));
    let mut external = transcribing(State::Ready);
    if let Some(t) = external
        .engines
        .iter_mut()
        .find(|e| e.capability == "transcription")
        .map(|e| &mut e.status)
    {
        t.engine.id = "external".into();
    }
    assert!(!MenuItem::Transcription.enabled(&external, true));
    // A long speech line gives way, the transcription part stays whole.
    let failed = transcribing(State::Idle);
    let mut failed = failed;
    failed.state = State::Failed {
        reason: "x".repeat(200),
    };
    assert!(status_line(&failed).ends_with("transcription: Whisper base (unloaded)"));
}

#[test]
fn the_desk_line_names_both_shortcuts_as_set_and_the_listening_title_keeps_the_last_words() {
    let mut settings = crate::config::Settings::default();
    assert_eq!(
        desk_keys(&settings),
        "Dictate: hold Ctrl+Alt+Space · Read selection: Ctrl+Alt+R"
    );
    settings.dictation.mode = crate::config::DictationMode::Toggle;
    settings.read_aloud.enabled = false;
    assert_eq!(desk_keys(&settings), "Dictate: press Ctrl+Alt+Space");
    settings.dictation.enabled = false;
    assert_eq!(desk_keys(&settings), MenuItem::DeskKeys.label());

    assert_eq!(listening_title("", 0.0), "● Listening ▯▯▯▯▯");
    assert_eq!(
        listening_title("  Hello there ", 1.0),
        "● ▮▮▮▮▮ Hello there"
    );
    let long = "word ".repeat(20);
    let title = listening_title(&long, 0.5);
    assert!(title.starts_with("● ▮▮▮▯▯ …"), "{title}");
    assert!(title.ends_with("word word"), "{title}");
    assert!(title.chars().count() <= 50, "{title}");
}
