//! The tray icon and its menu. What each state looks like is decided in
//! `murmur_core::tray`; this module only draws it and routes clicks to the core.

use std::sync::Arc;

use murmur_core::backend::Backend;
use murmur_core::status::Status;
use murmur_core::tray::{self as model, Icon};
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager, Wry};

const ICON_STOPPED: &[u8] = include_bytes!("../../icons/tray-stopped.png");
const ICON_WARMING: &[u8] = include_bytes!("../../icons/tray-warming.png");
const ICON_READY: &[u8] = include_bytes!("../../icons/tray-ready.png");
const ICON_FAILED: &[u8] = include_bytes!("../../icons/tray-failed.png");

/// The menu items that change with the status.
pub struct Tray {
    icon: TrayIcon<Wry>,
    status: MenuItem<Wry>,
    server: CheckMenuItem<Wry>,
}

pub fn build(app: &AppHandle) -> tauri::Result<Tray> {
    let status = MenuItem::with_id(app, "status", "Starting…", false, None::<&str>)?;
    let server = CheckMenuItem::with_id(app, "server", "Speech server", true, true, None::<&str>)?;
    let restart = MenuItem::with_id(app, "restart", "Restart engine", true, None::<&str>)?;
    let open = MenuItem::with_id(app, "open", "Open Murmur…", true, None::<&str>)?;
    let logs = MenuItem::with_id(app, "logs", "Open logs folder", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit Murmur", true, None::<&str>)?;
    let separator = PredefinedMenuItem::separator(app)?;
    let separator2 = PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(
        app,
        &[
            &status,
            &separator,
            &server,
            &restart,
            &open,
            &logs,
            &separator2,
            &quit,
        ],
    )?;
    let icon = TrayIconBuilder::with_id("murmur")
        .icon(Image::from_bytes(ICON_STOPPED)?)
        .tooltip("Murmur")
        .menu(&menu)
        .on_menu_event(|app, event| on_menu(app, event.id.as_ref()))
        .build(app)?;
    Ok(Tray {
        icon,
        status,
        server,
    })
}

impl Tray {
    /// Redraw for `status`.
    pub fn show(&self, status: &Status) {
        let bytes = match Icon::of(status) {
            Icon::Stopped => ICON_STOPPED,
            Icon::Warming => ICON_WARMING,
            Icon::Ready => ICON_READY,
            Icon::Failed => ICON_FAILED,
        };
        if let Ok(image) = Image::from_bytes(bytes) {
            let _ = self.icon.set_icon(Some(image));
        }
        let _ = self.icon.set_tooltip(Some(model::tooltip(status)));
        let _ = self.status.set_text(model::status_line(status));
        let _ = self.server.set_checked(model::server_on(status));
    }
}

/// Keep the tray in step with the engine until the app ends.
pub async fn follow(tray: Tray, backend: Arc<dyn Backend>) {
    let Some(mut status) = backend.supervisor().map(|s| s.status()) else {
        return;
    };
    loop {
        let snapshot = status.borrow_and_update().clone();
        tray.show(&snapshot);
        if status.changed().await.is_err() {
            return;
        }
    }
}

fn on_menu(app: &AppHandle, id: &str) {
    let Some(core) = app.try_state::<crate::Core>() else {
        if id == "quit" {
            crate::quit(app);
        }
        return;
    };
    let supervisor = core.backend.supervisor().cloned();
    match id {
        "server" => {
            if let Some(supervisor) = supervisor {
                let on = model::server_on(&supervisor.status().borrow());
                tauri::async_runtime::spawn(async move {
                    if on {
                        supervisor.stop().await;
                    } else {
                        let _ = supervisor.start().await;
                    }
                });
            }
        }
        "restart" => {
            if let Some(supervisor) = supervisor {
                tauri::async_runtime::spawn(async move { supervisor.restart().await });
            }
        }
        "open" => crate::window::open(app, &core.page_url),
        "logs" => open_folder(&core.log_dir),
        "quit" => crate::quit(app),
        _ => {}
    }
}

fn open_folder(dir: &std::path::Path) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    if let Err(e) = std::process::Command::new(opener).arg(dir).spawn() {
        tracing::warn!("cannot open {}: {e}", dir.display());
    }
}
