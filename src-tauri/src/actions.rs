//! What each tray menu item does. Engine actions and test speech call the core's typed
//! [`Control`] handle (the same code behind the window's buttons and `POST
//! /murmur/api/engine/…`); the rest are desktop chores.

use murmur_core::control::{Control, EngineAction, SpeakTest};
use murmur_core::engines::Capability;
use murmur_core::tray::{MenuItem, Notice};
use tauri::{AppHandle, Manager, Runtime};

/// What became of a menu choice, for the tray to show.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// "Start at login" is now on or off.
    StartAtLogin(bool),
    /// Something the user should hear about.
    Failed(Notice),
}

/// Carry out `item`. Long actions (starting the engine, speaking) finish before this returns.
pub async fn perform<R: Runtime>(app: &AppHandle<R>, item: MenuItem) -> Outcome {
    match item {
        MenuItem::Status => Outcome::Done,
        MenuItem::Quit => {
            crate::quit(app);
            Outcome::Done
        }
        MenuItem::Open => {
            crate::window::open(app);
            Outcome::Done
        }
        MenuItem::StartAtLogin => {
            let on = !crate::desktop::starts_at_login(app);
            match crate::desktop::set_start_at_login(app, on) {
                Ok(now) => Outcome::StartAtLogin(now),
                Err(e) => failed("Start at login", e),
            }
        }
        MenuItem::CopyApiUrl => match core_value(app, |core| core.api_url.clone()) {
            Some(url) => match crate::desktop::copy_text(app, &url) {
                Ok(()) => Outcome::Done,
                Err(e) => failed("Copy API URL", e),
            },
            None => failed("Copy API URL", "Murmur is still starting"),
        },
        MenuItem::OpenLogs => match core_value(app, |core| core.log_dir.clone()) {
            Some(dir) => match crate::desktop::open_folder(app, &dir) {
                Ok(()) => Outcome::Done,
                Err(e) => failed("Open logs folder", e),
            },
            None => failed("Open logs folder", "Murmur is still starting"),
        },
        MenuItem::Server => {
            let Some(control) = core_value(app, |core| core.control.clone()) else {
                return failed("Speech server", "Murmur is still starting");
            };
            let action = if murmur_core::tray::server_on(&control.status()) {
                EngineAction::Stop
            } else {
                EngineAction::Start
            };
            engine(&control, action).await
        }
        MenuItem::Transcription => {
            let Some(control) = core_value(app, |core| core.control.clone()) else {
                return failed("Transcription", "Murmur is still starting");
            };
            let action = if murmur_core::tray::transcription_on(&control.status()) {
                EngineAction::Stop
            } else {
                EngineAction::Start
            };
            match control.act(Capability::Transcription, action).await {
                Ok(_) => Outcome::Done,
                Err(e) => failed("Transcription", e.problem.message),
            }
        }
        MenuItem::Restart => {
            let Some(control) = core_value(app, |core| core.control.clone()) else {
                return failed("Restart engine", "Murmur is still starting");
            };
            engine(&control, EngineAction::Restart).await
        }
        MenuItem::TestSpeech => test_speech(app).await,
        MenuItem::DeskKeys => Outcome::Done,
        MenuItem::ReadClipboard | MenuItem::StopReading => {
            let Some(desk) = app.try_state::<crate::desk::Desk>() else {
                return failed(item.label(), "Murmur is still starting");
            };
            desk.send(if item == MenuItem::ReadClipboard {
                crate::desk::Input::ReadClipboard
            } else {
                crate::desk::Input::StopReading
            });
            Outcome::Done
        }
    }
}

fn core_value<R: Runtime, T>(app: &AppHandle<R>, f: impl FnOnce(&crate::Core) -> T) -> Option<T> {
    app.try_state::<crate::Core>().map(|core| f(&core))
}

fn failed(what: &str, why: impl std::fmt::Display) -> Outcome {
    Outcome::Failed(Notice {
        title: format!("{what} did not work"),
        body: why.to_string(),
    })
}

async fn engine(control: &Control, action: EngineAction) -> Outcome {
    match control.act(Capability::Speech, action).await {
        Ok(_) => Outcome::Done,
        Err(e) => failed("The engine action", e.problem.message),
    }
}

/// Speak the default test phrase through the engine and play it.
async fn test_speech<R: Runtime>(app: &AppHandle<R>) -> Outcome {
    let Some((control, path)) =
        core_value(app, |core| (core.control.clone(), core.player_path.clone()))
    else {
        return failed("Test speech", "Murmur is still starting");
    };
    let player =
        match murmur_core::playback::find(&murmur_core::playback::candidates(), path.as_deref()) {
            Ok(player) => player,
            Err(e) => return failed("Test speech", e),
        };
    let audio = match control.speak_test_bytes(SpeakTest::default()).await {
        Ok((audio, _)) => audio,
        Err(e) => return failed("Test speech", e.problem.message),
    };
    match murmur_core::playback::play(&player, &audio).await {
        Ok(()) => Outcome::Done,
        Err(e) => failed("Test speech", e),
    }
}
