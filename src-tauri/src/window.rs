//! The settings window: the status & settings page that `murmurd` serves, with the control
//! token in the URL fragment (which never leaves the webview). Closing the window destroys it,
//! releasing the webview's memory; opening it again makes a new one.

use tauri::{AppHandle, Manager, WebviewUrl, WebviewWindowBuilder};

pub fn open(app: &AppHandle, page_url: &str) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.show();
        let _ = window.set_focus();
        return;
    }
    let Ok(url) = page_url.parse() else {
        tracing::error!("the page URL {page_url:?} is not a URL");
        return;
    };
    let built = WebviewWindowBuilder::new(app, "main", WebviewUrl::External(url))
        .title("Murmur")
        .inner_size(520.0, 760.0)
        .min_inner_size(480.0, 560.0)
        .build();
    if let Err(e) = built {
        tracing::error!("cannot open the Murmur window: {e}");
    }
}
