//! Other apps' text: inserting a dictation where the cursor is, reading the selection.
//!
//! Inserting pastes (the clipboard set, the paste keys sent, the clipboard put back) or types
//! (each character sent as a key): XTest on X11, CGEvent on macOS, SendInput on Windows, all
//! through enigo; in a Wayland session, `wtype` or `ydotool` when present, else the desktop
//! portal's RemoteDesktop keyboard ([`super::remote`]). When there is nowhere to put the text
//! (no focused window, a Wayland desktop with no way to type), it stays on the clipboard and
//! the caller tells the user. The selection is X11's primary selection, or,
//! elsewhere, what the copy keys put on the clipboard.

use std::time::{Duration, Instant};

use arboard::Clipboard;
use murmur_core::config::InsertMethod;
use murmur_core::dictations::Outcome;

/// How long the app that pastes has to take the text before the clipboard is put back.
const PASTE_SETTLE: Duration = Duration::from_millis(400);

/// Put `text` where the cursor is; what became of it, or why it is only on the clipboard.
pub fn insert(
    clipboard: &mut Clipboard,
    text: &str,
    method: InsertMethod,
) -> (Outcome, Option<String>) {
    if let Some(why) = nowhere_to_insert() {
        return (left_on_clipboard(clipboard, text), Some(why));
    }
    wait_for_modifiers_up(Duration::from_millis(1500));
    if wayland_session() {
        return match wayland_type(text) {
            Ok(()) => (Outcome::Typed, None),
            Err(why) => (left_on_clipboard(clipboard, text), Some(why)),
        };
    }
    let done = match method {
        InsertMethod::Type => typed(text).map(|()| Outcome::Typed),
        InsertMethod::Paste => pasted(clipboard, text).map(|()| Outcome::Pasted),
    };
    match done {
        Ok(outcome) => (outcome, None),
        Err(why) => (left_on_clipboard(clipboard, text), Some(why)),
    }
}

fn left_on_clipboard(clipboard: &mut Clipboard, text: &str) -> Outcome {
    if let Err(e) = clipboard.set_text(text) {
        tracing::warn!("dictation: cannot put the text on the clipboard either: {e}");
    }
    Outcome::OnClipboard
}

fn typed(text: &str) -> Result<(), String> {
    use enigo::Keyboard;
    let mut enigo = enigo()?;
    enigo
        .text(text)
        .map_err(|e| format!("cannot type into the focused app: {e}"))
}

fn pasted(clipboard: &mut Clipboard, text: &str) -> Result<(), String> {
    use enigo::{Direction, Key, Keyboard};
    let before = clipboard.get_text().ok();
    clipboard
        .set_text(text)
        .map_err(|e| format!("cannot use the clipboard: {e}"))?;
    let modifier = if cfg!(target_os = "macos") {
        Key::Meta
    } else {
        Key::Control
    };
    let mut enigo = enigo()?;
    let keys = enigo
        .key(modifier, Direction::Press)
        .and_then(|()| enigo.key(Key::Unicode('v'), Direction::Click))
        .and_then(|()| enigo.key(modifier, Direction::Release));
    keys.map_err(|e| format!("cannot send the paste keys: {e}"))?;
    std::thread::sleep(PASTE_SETTLE);
    // What was there before comes back (text; a picture on the clipboard is not kept).
    let restored = match before {
        Some(before) => clipboard.set_text(before),
        None => clipboard.clear(),
    };
    if let Err(e) = restored {
        tracing::warn!("dictation: cannot put the clipboard back: {e}");
    }
    Ok(())
}

fn enigo() -> Result<enigo::Enigo, String> {
    let settings = enigo::Settings {
        // Typed text arrives fast but not faster than apps read their events.
        linux_delay: 2,
        ..enigo::Settings::default()
    };
    enigo::Enigo::new(&settings).map_err(|e| {
        if cfg!(target_os = "macos") {
            format!(
                "Murmur may not type into other apps: allow it under System Settings → Privacy & Security → Accessibility ({e})"
            )
        } else {
            format!("cannot send keys to other apps: {e}")
        }
    })
}

/// The selected text: X11's primary selection; elsewhere, what copying the selection gives
/// (the clipboard put back afterwards); the clipboard's text when nothing is selected.
pub fn selection(clipboard: &mut Clipboard) -> Option<String> {
    let text = selected(clipboard).or_else(|| clipboard.get_text().ok());
    text.filter(|t| !t.trim().is_empty())
}

#[cfg(target_os = "linux")]
fn selected(clipboard: &mut Clipboard) -> Option<String> {
    use arboard::{GetExtLinux, LinuxClipboardKind};
    clipboard
        .get()
        .clipboard(LinuxClipboardKind::Primary)
        .text()
        .ok()
        .filter(|t| !t.trim().is_empty())
}

#[cfg(not(target_os = "linux"))]
fn selected(clipboard: &mut Clipboard) -> Option<String> {
    use enigo::{Direction, Key, Keyboard};
    let before = clipboard.get_text().ok();
    let _ = clipboard.clear();
    let modifier = if cfg!(target_os = "macos") {
        Key::Meta
    } else {
        Key::Control
    };
    wait_for_modifiers_up(Duration::from_millis(1000));
    let mut enigo = enigo().ok()?;
    let _ = enigo
        .key(modifier, Direction::Press)
        .and_then(|()| enigo.key(Key::Unicode('c'), Direction::Click))
        .and_then(|()| enigo.key(modifier, Direction::Release));
    std::thread::sleep(Duration::from_millis(150));
    let copied = clipboard.get_text().ok();
    if let Some(before) = before {
        let _ = clipboard.set_text(before);
    }
    copied.filter(|t| !t.trim().is_empty())
}

/// A Wayland session: XTest reaches only XWayland's windows there (and X11 cannot tell which
/// window has the focus), so text goes through the compositor.
fn wayland_session() -> bool {
    cfg!(target_os = "linux")
        && (super::portal::wanted()
            || std::env::var_os("WAYLAND_DISPLAY").is_some()
                && std::env::var_os("DISPLAY").is_none())
}

/// Wayland has no XTest: `wtype` (wlroots compositors) or `ydotool` type for Murmur, else the
/// desktop portal's RemoteDesktop keyboard (GNOME, KDE; the desktop asks the person once).
fn wayland_type(text: &str) -> Result<(), String> {
    for (program, args) in [("wtype", vec!["--"]), ("ydotool", vec!["type", "--"])] {
        match std::process::Command::new(program)
            .args(args)
            .arg(text)
            .status()
        {
            Ok(status) if status.success() => return Ok(()),
            Ok(status) => tracing::warn!("dictation: {program} failed ({status})"),
            Err(_) => {}
        }
    }
    super::remote::type_text(text).map_err(|e| {
        format!("this Wayland desktop lets no app type into others ({e}; wtype or ydotool would)")
    })
}

/// What types on this Wayland desktop, in words for the settings.
pub fn wayland_typing() -> &'static str {
    let on_path = |program: &str| {
        std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
    };
    if on_path("wtype") {
        "wtype"
    } else if on_path("ydotool") {
        "ydotool"
    } else {
        "the desktop portal's remote keyboard where the desktop offers one (it asks you once), else they are left on the clipboard (install wtype or ydotool to type without asking)"
    }
}

/// Why the text cannot go anywhere, when it cannot: nothing has the keyboard's focus.
fn nowhere_to_insert() -> Option<String> {
    #[cfg(target_os = "linux")]
    if !wayland_session() {
        return x11::focused_window()
            .is_none()
            .then(|| "no window had the keyboard's focus".to_string());
    }
    None
}

/// Wait until Ctrl, Alt, Shift and Super are up (the shortcut's keys may still be held as
/// its last key is released), so typed letters do not become shortcuts.
fn wait_for_modifiers_up(longest: Duration) {
    let until = Instant::now() + longest;
    #[cfg(target_os = "linux")]
    while x11::modifiers_held() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = until;
}

#[cfg(target_os = "linux")]
mod x11 {
    use x11rb::connection::Connection;
    use x11rb::protocol::xproto::{AtomEnum, ConnectionExt, KeyButMask};

    fn connect() -> Option<(x11rb::rust_connection::RustConnection, u32)> {
        let (conn, screen) = x11rb::connect(None).ok()?;
        let root = conn.setup().roots.get(screen)?.root;
        Some((conn, root))
    }

    /// The window that has the keyboard: the window manager's active window where it names
    /// one (EWMH), else X's input focus unless it is nobody, the root, or the window
    /// manager's own (where it parks the focus when no window has it).
    pub fn focused_window() -> Option<u32> {
        let Some((conn, root)) = connect() else {
            // No X server to ask: assume the keys will land.
            return Some(0);
        };
        let window_property = |name: &[u8]| -> Option<Option<u32>> {
            let atom = conn.intern_atom(true, name).ok()?.reply().ok()?.atom;
            if atom == 0 {
                return None;
            }
            let reply = conn
                .get_property(false, root, atom, AtomEnum::WINDOW, 0, 1)
                .ok()?
                .reply()
                .ok()?;
            (reply.format == 32).then(|| reply.value32().and_then(|mut v| v.next()))
        };
        if let Some(active) = window_property(b"_NET_ACTIVE_WINDOW") {
            return active.filter(|&w| w != 0);
        }
        let manager = window_property(b"_NET_SUPPORTING_WM_CHECK").flatten();
        let focus = conn.get_input_focus().ok()?.reply().ok()?.focus;
        (focus > 1 && focus != root && Some(focus) != manager).then_some(focus)
    }

    pub fn modifiers_held() -> bool {
        let Some((conn, root)) = connect() else {
            return false;
        };
        let held = KeyButMask::CONTROL | KeyButMask::SHIFT | KeyButMask::MOD1 | KeyButMask::MOD4;
        conn.query_pointer(root)
            .ok()
            .and_then(|c| c.reply().ok())
            .is_some_and(|reply| u16::from(reply.mask) & u16::from(held) != 0)
    }
}
