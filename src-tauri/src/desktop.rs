//! What only a desktop has: notifications, the clipboard, start at login, the file manager,
//! and (macOS) staying out of the Dock. Each is best effort: a desktop without a notification
//! daemon or clipboard still runs Murmur, and the failure is logged.

use std::sync::atomic::{AtomicBool, Ordering};

use murmur_core::tray::Notice;
use tauri::{AppHandle, Manager, Runtime};

/// Show a notification (logged as well, since it may not be seen).
pub fn notify<R: Runtime>(app: &AppHandle<R>, notice: &Notice) {
    use tauri_plugin_notification::NotificationExt;
    tracing::info!("notification: {}: {}", notice.title, notice.body);
    if app
        .try_state::<tauri_plugin_notification::Notification<R>>()
        .is_none()
    {
        return;
    }
    if let Err(e) = app
        .notification()
        .builder()
        .title(&notice.title)
        .body(&notice.body)
        .show()
    {
        tracing::warn!("cannot show a notification: {e}");
    }
}

/// Put `text` on the clipboard.
pub fn copy_text<R: Runtime>(app: &AppHandle<R>, text: &str) -> Result<(), String> {
    use tauri_plugin_clipboard_manager::ClipboardExt;
    if app
        .try_state::<tauri_plugin_clipboard_manager::Clipboard<R>>()
        .is_none()
    {
        return Err("the clipboard is not available".into());
    }
    app.clipboard()
        .write_text(text.to_string())
        .map_err(|e| format!("cannot copy to the clipboard: {e}"))
}

/// Whether Murmur starts at login (a LaunchAgent on macOS, an XDG autostart entry on Linux).
pub fn starts_at_login<R: Runtime>(app: &AppHandle<R>) -> bool {
    app.try_state::<tauri_plugin_autostart::AutoLaunchManager>()
        .and_then(|manager| manager.is_enabled().ok())
        .unwrap_or(false)
}

/// Turn start at login on or off; answers what it now is.
pub fn set_start_at_login<R: Runtime>(app: &AppHandle<R>, on: bool) -> Result<bool, String> {
    let manager = app
        .try_state::<tauri_plugin_autostart::AutoLaunchManager>()
        .ok_or("start at login is not available")?;
    let done = if on {
        manager.enable()
    } else {
        manager.disable()
    };
    done.map_err(|e| format!("cannot change start at login: {e}"))?;
    Ok(manager.is_enabled().unwrap_or(on))
}

/// Show `dir` in the file manager (tauri-plugin-opener: the platform's opener, detached and
/// reaped, so no click leaves a zombie behind).
pub fn open_folder<R: Runtime>(app: &AppHandle<R>, dir: &std::path::Path) -> Result<(), String> {
    use tauri_plugin_opener::OpenerExt;
    let _ = std::fs::create_dir_all(dir);
    app.opener()
        .open_path(dir.to_string_lossy(), None::<&str>)
        .map_err(|e| format!("cannot open {}: {e}", dir.display()))
}

/// macOS: a menu-bar app has no Dock icon and no app menu (the accessory activation policy).
/// Elsewhere there is nothing to do.
pub fn hide_from_dock<R: Runtime>(app: &mut tauri::App<R>) {
    #[cfg(target_os = "macos")]
    app.set_activation_policy(tauri::ActivationPolicy::Accessory);
    #[cfg(not(target_os = "macos"))]
    let _ = app;
}

static GL_DISABLED_BY_US: AtomicBool = AtomicBool::new(false);

/// The tray process draws no GL: without it GTK does not load the GL driver (with Mesa, all
/// of LLVM: ~50 MB of the tray's memory). Call first thing in `main`, before any thread.
pub fn tray_without_gl() {
    if cfg!(target_os = "linux") && std::env::var_os("GDK_GL").is_none() {
        // SAFETY: called at the top of `main`, before any other thread exists, so nothing
        // reads the environment concurrently.
        #[allow(unsafe_code)]
        unsafe {
            std::env::set_var("GDK_GL", "disable");
        }
        GL_DISABLED_BY_US.store(true, Ordering::Relaxed);
    }
}

/// Whether [`tray_without_gl`] set `GDK_GL` (the settings window's process gets it unset).
pub fn gl_disabled_by_us() -> bool {
    GL_DISABLED_BY_US.load(Ordering::Relaxed)
}
