//! The settings window: the `ui/` page from the app's own assets, talking to the core over
//! IPC ([`crate::commands`]). Closing the window destroys it, which releases the webview and
//! its WebKit processes (~280 MB); opening it again builds a new one, where the last one was
//! (the window-state plugin keeps its size and position).

use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder, WindowEvent};
use tauri_plugin_window_state::{AppHandleExt, StateFlags};

/// The settings window's label (the capability in `capabilities/default.json` names it).
pub const LABEL: &str = "main";

/// What the window-state plugin remembers.
pub fn remembered() -> StateFlags {
    StateFlags::SIZE | StateFlags::POSITION | StateFlags::MAXIMIZED
}

/// Show the settings window, making it if it is closed.
pub fn open<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window(LABEL) {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
        return;
    }
    let built = WebviewWindowBuilder::new(app, LABEL, WebviewUrl::App("index.html".into()))
        .title("Murmur")
        .inner_size(520.0, 760.0)
        .min_inner_size(480.0, 560.0)
        .build();
    match built {
        Ok(window) => {
            let _ = window.set_focus();
            let handle = app.clone();
            window.on_window_event(move |event| {
                if let WindowEvent::Destroyed = event {
                    // Remember where it was now, not only when Murmur quits.
                    if let Err(e) = handle.save_window_state(remembered()) {
                        tracing::debug!("cannot save the window's place: {e}");
                    }
                }
            });
        }
        Err(e) => tracing::error!("cannot open the Murmur window: {e}"),
    }
}
