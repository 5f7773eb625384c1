//! The tray icon and its menu. What they show is decided in `murmur_core::tray` (the menu's
//! items, the status line, the icon for each state); this module only draws it and hands
//! clicks to [`crate::actions`].

use std::collections::HashMap;

use murmur_core::status::Status;
use murmur_core::tray::{self as model, Icon, MenuItem};
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuItem as TextItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager, Wry};

const ICON_STOPPED: &[u8] = include_bytes!("../../icons/tray-stopped.png");
const ICON_WARMING: &[u8] = include_bytes!("../../icons/tray-warming.png");
const ICON_READY: &[u8] = include_bytes!("../../icons/tray-ready.png");
const ICON_FAILED: &[u8] = include_bytes!("../../icons/tray-failed.png");

/// A menu entry: plain or check item.
#[derive(Clone)]
enum Entry {
    Text(TextItem<Wry>),
    Check(CheckMenuItem<Wry>),
}

impl Entry {
    fn set_enabled(&self, on: bool) {
        let _ = match self {
            Self::Text(item) => item.set_enabled(on),
            Self::Check(item) => item.set_enabled(on),
        };
    }

    fn set_checked(&self, on: bool) {
        if let Self::Check(item) = self {
            let _ = item.set_checked(on);
        }
    }

    fn set_text(&self, text: &str) {
        let _ = match self {
            Self::Text(item) => item.set_text(text),
            Self::Check(item) => item.set_text(text),
        };
    }
}

/// The tray icon and the menu items that change. Cheap to clone.
#[derive(Clone)]
pub struct Tray {
    icon: TrayIcon<Wry>,
    entries: std::sync::Arc<HashMap<&'static str, Entry>>,
}

pub fn build(app: &AppHandle) -> tauri::Result<Tray> {
    let menu = Menu::new(app)?;
    let mut entries = HashMap::new();
    for slot in MenuItem::LAYOUT {
        let Some(item) = slot else {
            menu.append(&PredefinedMenuItem::separator(app)?)?;
            continue;
        };
        let enabled = item != MenuItem::Status;
        let entry = if item.is_check() {
            let checked = match item {
                MenuItem::StartAtLogin => crate::desktop::starts_at_login(app),
                _ => true,
            };
            let check = CheckMenuItem::with_id(
                app,
                item.id(),
                item.label(),
                enabled,
                checked,
                None::<&str>,
            )?;
            menu.append(&check)?;
            Entry::Check(check)
        } else {
            let text = TextItem::with_id(app, item.id(), item.label(), enabled, None::<&str>)?;
            menu.append(&text)?;
            Entry::Text(text)
        };
        entries.insert(item.id(), entry);
    }
    let icon = TrayIconBuilder::with_id("murmur")
        .icon(Image::from_bytes(ICON_STOPPED)?)
        .icon_as_template(cfg!(target_os = "macos"))
        .tooltip("Murmur")
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| on_menu(app, event.id.as_ref()))
        .build(app)?;
    let tray = Tray {
        icon,
        entries: std::sync::Arc::new(entries),
    };
    app.manage(tray.clone());
    Ok(tray)
}

impl Tray {
    fn entry(&self, item: MenuItem) -> Option<&Entry> {
        self.entries.get(item.id())
    }

    /// Redraw for `status`.
    pub fn show(&self, status: &Status) {
        self.set_icon(Icon::of(status));
        let _ = self.icon.set_tooltip(Some(model::tooltip(status)));
        if let Some(line) = self.entry(MenuItem::Status) {
            line.set_text(&model::status_line(status));
        }
        if let Some(server) = self.entry(MenuItem::Server) {
            server.set_checked(model::server_on(status));
        }
        for item in MenuItem::LAYOUT.into_iter().flatten() {
            if item != MenuItem::Status
                && let Some(entry) = self.entry(item)
            {
                entry.set_enabled(item.enabled(status, true));
            }
        }
    }

    /// An engine Murmur does not run: only whether it answered is known.
    pub fn show_external(&self, ready: bool) {
        self.set_icon(if ready { Icon::Ready } else { Icon::Stopped });
        let line = "External engine (not managed by Murmur)";
        let _ = self.icon.set_tooltip(Some(format!("Murmur: {line}")));
        if let Some(entry) = self.entry(MenuItem::Status) {
            entry.set_text(line);
        }
        for item in [MenuItem::Server, MenuItem::Restart] {
            if let Some(entry) = self.entry(item) {
                entry.set_enabled(false);
            }
        }
    }

    /// Murmur itself could not start (its port is taken, say).
    pub fn show_problem(&self, problem: &str) {
        self.set_icon(Icon::Failed);
        let _ = self.icon.set_tooltip(Some(format!("Murmur: {problem}")));
        if let Some(entry) = self.entry(MenuItem::Status) {
            entry.set_text(&format!("Not running — {problem}"));
        }
        for item in [MenuItem::Server, MenuItem::Restart, MenuItem::TestSpeech] {
            if let Some(entry) = self.entry(item) {
                entry.set_enabled(false);
            }
        }
    }

    fn set_icon(&self, icon: Icon) {
        let bytes = match icon {
            Icon::Stopped => ICON_STOPPED,
            Icon::Warming => ICON_WARMING,
            Icon::Ready => ICON_READY,
            Icon::Failed => ICON_FAILED,
        };
        if let Ok(image) = Image::from_bytes(bytes) {
            let _ = self.icon.set_icon(Some(image));
        }
        // macOS draws template icons in the menu bar's colours (alpha only): right for the
        // plain icons, but the warming and failed ones need their coloured dot.
        if cfg!(target_os = "macos") {
            let _ = self
                .icon
                .set_icon_as_template(matches!(icon, Icon::Ready | Icon::Stopped));
        }
    }

    /// Show the current status again (a check item flips itself when clicked; the status,
    /// not the click, decides what it shows).
    fn resync(&self, app: &AppHandle) {
        let status = app
            .try_state::<crate::Core>()
            .filter(|core| core.control.manages_engine())
            .map(|core| core.control.status());
        if let Some(status) = status {
            self.show(&status);
        }
    }
}

fn on_menu(app: &AppHandle, id: &str) {
    let Some(item) = MenuItem::from_id(id) else {
        return;
    };
    tracing::info!("tray: {}", item.label());
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let outcome = crate::actions::perform(&app, item).await;
        let tray = app.try_state::<Tray>().map(|t| t.inner().clone());
        match outcome {
            crate::actions::Outcome::Done => {}
            crate::actions::Outcome::StartAtLogin(on) => {
                if let Some(entry) = tray.as_ref().and_then(|t| t.entry(item)) {
                    entry.set_checked(on);
                }
            }
            crate::actions::Outcome::Failed(notice) => {
                tracing::warn!("{}: {}", notice.title, notice.body);
                crate::desktop::notify(&app, &notice);
                if item == MenuItem::StartAtLogin
                    && let Some(entry) = tray.as_ref().and_then(|t| t.entry(item))
                {
                    entry.set_checked(crate::desktop::starts_at_login(&app));
                }
            }
        }
        if let Some(tray) = tray {
            tray.resync(&app);
        }
    });
}
