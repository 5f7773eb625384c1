//! The desk's shortcuts: taken through X11's grab (tauri's global-shortcut plugin, whose
//! handler posts to the desk) or, on Wayland, asked of the desktop portal ([`super::portal`]).

use std::sync::Mutex;

use tauri::{AppHandle, Manager};
use tauri_plugin_global_shortcut::{GlobalShortcutExt, Shortcut, ShortcutState};

use super::{Desk, Input, State, portal};

/// The registered shortcuts, for the handler to tell them apart.
#[derive(Default)]
pub(super) struct Keys {
    dictate: Option<Shortcut>,
    read: Option<Shortcut>,
    escape: Option<Shortcut>,
}

/// The global-shortcut plugin, whose handler posts to the desk.
pub fn plugin() -> tauri::plugin::TauriPlugin<tauri::Wry> {
    tauri_plugin_global_shortcut::Builder::new()
        .with_handler(|app, shortcut, event| {
            let (Some(desk), Some(keys)) =
                (app.try_state::<Desk>(), app.try_state::<Mutex<Keys>>())
            else {
                return;
            };
            let keys = keys
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let pressed = event.state() == ShortcutState::Pressed;
            let input = if keys.dictate.as_ref() == Some(shortcut) {
                if pressed {
                    Input::DictateDown
                } else {
                    Input::DictateUp
                }
            } else if keys.read.as_ref() == Some(shortcut) && pressed {
                Input::ReadKey
            } else if keys.escape.as_ref() == Some(shortcut) && pressed {
                Input::Escape
            } else {
                return;
            };
            desk.send(input);
        })
        .build()
}

/// The portal's shortcuts, or why there are none.
pub struct PortalAnswer(Result<portal::Bound, portal::Refused>);

impl std::fmt::Debug for PortalAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Ok(_) => f.write_str("bound"),
            Err(e) => write!(f, "{e}"),
        }
    }
}

impl State {
    /// Let go of the shortcuts held and take the configured ones: through the portal on
    /// Wayland (its answer comes back as [`Input::Portal`]), else through the plugin.
    pub(super) fn take_shortcuts(&mut self) {
        // The handler locks `Keys` on the shortcut library's thread, which (un)registering
        // waits for: the lock is never held across those calls.
        let old = {
            let mut keys = self.keys();
            [keys.dictate.take(), keys.read.take()]
        };
        let shortcuts = self.app.global_shortcut();
        for old in old.into_iter().flatten() {
            let _ = shortcuts.unregister(old);
        }
        let (dictation, read) = (&self.settings.dictation, &self.settings.read_aloud);
        self.portal = None;
        if portal::wanted() && !self.without_portal {
            self.portal_round += 1;
            let (round, desk) = (self.portal_round, self.desk.clone());
            let wanted = portal::Wanted {
                dictation: dictation.enabled.then(|| dictation.shortcut.clone()),
                read_aloud: read.enabled.then(|| read.shortcut.clone()),
            };
            tauri::async_runtime::spawn(async move {
                let answer = portal::bind(desk.clone(), wanted).await;
                desk.send(Input::Portal(round, PortalAnswer(answer)));
            });
        } else {
            let dictate = dictation
                .enabled
                .then(|| register(&self.app, &dictation.shortcut, "dictation"))
                .flatten();
            let read_key = read
                .enabled
                .then(|| register(&self.app, &read.shortcut, "read aloud"))
                .flatten();
            let mut keys = self.keys();
            keys.dictate = dictate;
            keys.read = read_key;
        }
        self.tell_ways();
    }

    /// Say how shortcuts and text go here, for the page's Dictation card.
    fn tell_ways(&self) {
        let typing = || super::keys::wayland_typing();
        let ways = if !portal::wanted() {
            native_ways().to_string()
        } else if self.portal.is_some() {
            format!(
                "Wayland: the shortcuts come from the desktop portal (your desktop may ask you to confirm or change them; Esc does not cancel a dictation here). The words are typed by {}.",
                typing()
            )
        } else if self.without_portal {
            format!(
                "Wayland without the desktop portal's shortcuts: Murmur hears them only while an X11 app has the focus. The words are typed by {}.",
                typing()
            )
        } else {
            "Wayland: asking the desktop portal for the shortcuts…".to_string()
        };
        *self
            .ways
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = ways;
    }

    /// The portal's answer: its shortcuts kept, or — missing or refused — the shortcut
    /// plugin instead (on XWayland it hears keys only while an X11 window has the focus).
    pub(super) fn portal_answered(&mut self, round: u64, answer: PortalAnswer) {
        if round != self.portal_round {
            return;
        }
        match answer.0 {
            Ok(bound) => {
                self.portal = Some(bound);
                self.tell_ways();
            }
            Err(e) => {
                tracing::warn!("desk: {e}; taking the shortcuts through X11 instead");
                crate::desktop::notify(
                    &self.app,
                    &murmur_core::tray::Notice {
                        title: "Murmur's shortcuts may only work in some windows".into(),
                        body: format!(
                            "{e}. Murmur listens for them through X11, which on Wayland hears keys only while an X11 app has the focus."
                        ),
                    },
                );
                self.without_portal = true;
                self.take_shortcuts();
            }
        }
    }

    /// Esc cancels a dictation: it is grabbed only while one is under way (not through the
    /// portal, which binds shortcuts once per session: there Esc is not heard).
    pub(super) fn grab_escape(&self, on: bool) {
        if self.portal.is_some() {
            return;
        }
        let old = self.keys().escape.take();
        if let Some(old) = old {
            let _ = self.app.global_shortcut().unregister(old);
        }
        if on {
            let escape = register(&self.app, "Escape", "cancel");
            self.keys().escape = escape;
        }
    }

    fn keys(&self) -> std::sync::MutexGuard<'_, Keys> {
        self.app
            .state::<Mutex<Keys>>()
            .inner()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn register(app: &AppHandle, text: &str, what: &str) -> Option<Shortcut> {
    let shortcut: Shortcut = match text.parse() {
        Ok(shortcut) => shortcut,
        Err(e) => {
            tracing::warn!("desk: the {what} shortcut {text:?} cannot be used: {e}");
            return None;
        }
    };
    match app.global_shortcut().register(shortcut) {
        Ok(()) => {
            tracing::info!("desk: {what} on {text}");
            Some(shortcut)
        }
        Err(e) => {
            tracing::warn!("desk: cannot take {text} for {what} (another app may have it): {e}");
            crate::desktop::notify(
                app,
                &murmur_core::tray::Notice {
                    title: format!("Murmur cannot use {text}"),
                    body: format!(
                        "Another app may have taken it. Pick another {what} shortcut in Murmur's settings."
                    ),
                },
            );
            None
        }
    }
}

/// How shortcuts and text go outside Wayland.
fn native_ways() -> &'static str {
    if cfg!(target_os = "macos") {
        "macOS: the shortcuts are system hotkeys; the words are pasted or typed with CGEvent (allow Murmur under Privacy & Security → Accessibility)."
    } else if cfg!(target_os = "windows") {
        "Windows: the shortcuts are system hotkeys; the words are pasted or typed with SendInput."
    } else {
        "X11: the shortcuts are grabbed from the X server; the words are pasted or typed with XTest into the window that has the focus."
    }
}
