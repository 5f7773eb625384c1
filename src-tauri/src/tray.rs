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

/// Each state's glyph (`icons/generate.py`), at 1× and 2×, in the order of [`Icon`]: template
/// images on macOS, where the menu bar colours them and the shape tells the state.
#[cfg(target_os = "macos")]
const ICONS: [(&[u8], &[u8]); 4] = [
    (
        include_bytes!("../../icons/tray-stopped-template.png"),
        include_bytes!("../../icons/tray-stopped-template@2x.png"),
    ),
    (
        include_bytes!("../../icons/tray-warming-template.png"),
        include_bytes!("../../icons/tray-warming-template@2x.png"),
    ),
    (
        include_bytes!("../../icons/tray-ready-template.png"),
        include_bytes!("../../icons/tray-ready-template@2x.png"),
    ),
    (
        include_bytes!("../../icons/tray-failed-template.png"),
        include_bytes!("../../icons/tray-failed-template@2x.png"),
    ),
];

/// Elsewhere the state's colour, ringed in near-black: it reads on light and dark panels.
#[cfg(not(target_os = "macos"))]
const ICONS: [(&[u8], &[u8]); 4] = [
    (
        include_bytes!("../../icons/tray-stopped.png"),
        include_bytes!("../../icons/tray-stopped@2x.png"),
    ),
    (
        include_bytes!("../../icons/tray-warming.png"),
        include_bytes!("../../icons/tray-warming@2x.png"),
    ),
    (
        include_bytes!("../../icons/tray-ready.png"),
        include_bytes!("../../icons/tray-ready@2x.png"),
    ),
    (
        include_bytes!("../../icons/tray-failed.png"),
        include_bytes!("../../icons/tray-failed@2x.png"),
    ),
];

/// The icon's picture for a display of `scale`. Linux panels scale the picture they get to
/// their own height, so they get the larger one.
fn icon_bytes(icon: Icon, scale: f64) -> &'static [u8] {
    let (one, two) = ICONS[match icon {
        Icon::Stopped => 0,
        Icon::Warming => 1,
        Icon::Ready => 2,
        Icon::Failed => 3,
    }];
    if scale > 1.0 || !cfg!(target_os = "macos") {
        two
    } else {
        one
    }
}

/// A menu entry: plain or check item.
#[derive(Clone)]
enum MenuEntry {
    Text(TextItem<Wry>),
    Check(CheckMenuItem<Wry>),
}

impl MenuEntry {
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
    /// The primary display's scale factor when Murmur started (which picture to use).
    scale: f64,
    entries: std::sync::Arc<HashMap<&'static str, MenuEntry>>,
    /// Where Home Assistant reaches Murmur, when its Wyoming server runs.
    wyoming_url: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

pub fn build(app: &AppHandle) -> tauri::Result<Tray> {
    let menu = Menu::new(app)?;
    let mut entries = HashMap::new();
    for slot in MenuItem::LAYOUT {
        let Some(item) = slot else {
            menu.append(&PredefinedMenuItem::separator(app)?)?;
            continue;
        };
        let enabled = !matches!(
            item,
            MenuItem::Status | MenuItem::DeskKeys | MenuItem::StopReading
        );
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
            MenuEntry::Check(check)
        } else {
            let text = TextItem::with_id(app, item.id(), item.label(), enabled, None::<&str>)?;
            menu.append(&text)?;
            MenuEntry::Text(text)
        };
        entries.insert(item.id(), entry);
    }
    let scale = app
        .primary_monitor()
        .ok()
        .flatten()
        .map_or(1.0, |m| m.scale_factor());
    let icon = TrayIconBuilder::with_id("murmur")
        .icon(Image::from_bytes(icon_bytes(Icon::Stopped, scale))?)
        .icon_as_template(cfg!(target_os = "macos"))
        .tooltip("Murmur")
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| on_menu(app, event.id.as_ref()))
        .build(app)?;
    let tray = Tray {
        icon,
        scale,
        entries: std::sync::Arc::new(entries),
        wyoming_url: std::sync::Arc::default(),
    };
    app.manage(tray.clone());
    Ok(tray)
}

impl Tray {
    fn entry(&self, item: MenuItem) -> Option<&MenuEntry> {
        self.entries.get(item.id())
    }

    /// Redraw for `status`.
    pub fn show(&self, status: &Status) {
        self.set_icon(Icon::of(status));
        let wyoming = self
            .wyoming_url
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let _ = self
            .icon
            .set_tooltip(Some(model::tooltip_with(status, wyoming.as_deref())));
        if let Some(line) = self.entry(MenuItem::Status) {
            line.set_text(&model::status_line(status));
        }
        if let Some(server) = self.entry(MenuItem::Server) {
            server.set_checked(model::server_on(status));
        }
        if let Some(transcription) = self.entry(MenuItem::Transcription) {
            transcription.set_checked(model::transcription_on(status));
        }
        for item in MenuItem::LAYOUT.into_iter().flatten() {
            // The desk's items follow the desk (`show_desk`), not the engines.
            if !matches!(
                item,
                MenuItem::Status | MenuItem::DeskKeys | MenuItem::StopReading
            ) && let Some(entry) = self.entry(item)
            {
                entry.set_enabled(item.enabled(status, true));
            }
        }
    }

    /// Where Home Assistant reaches Murmur's Wyoming server (shown in the tooltip).
    pub fn set_wyoming_url(&self, url: Option<String>) {
        *self
            .wyoming_url
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = url;
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
        if let Ok(image) = Image::from_bytes(icon_bytes(icon, self.scale)) {
            let _ = self.icon.set_icon(Some(image));
        }
        // Every state's glyph is a template on macOS (tray-icon keeps the flag per icon).
        if cfg!(target_os = "macos") {
            let _ = self.icon.set_icon_as_template(true);
        }
    }

    /// The status's tooltip and items again (after the desk borrowed the tooltip).
    fn resync_now(&self) {
        let _ = self.icon.set_tooltip(Some("Murmur"));
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

/// The desk's line and items, for its settings and whether something is being read.
pub fn show_desk(app: &AppHandle, settings: &murmur_core::config::Settings, reading: bool) {
    let Some(tray) = app.try_state::<Tray>() else {
        return;
    };
    if let Some(line) = tray.entry(MenuItem::DeskKeys) {
        line.set_text(&model::desk_keys(settings));
    }
    if let Some(stop) = tray.entry(MenuItem::StopReading) {
        stop.set_enabled(reading);
    }
    let _ = tray.icon.set_title(None::<&str>);
}

/// While someone dictates: a level meter and the words so far beside the icon (and in its
/// tooltip, where the panel shows no text), until the dictation's words end.
pub fn show_listening(
    app: &AppHandle,
    mut words: tokio::sync::watch::Receiver<String>,
    level: Option<std::sync::Arc<dyn Fn() -> f32 + Send + Sync>>,
) {
    let Some(tray) = app.try_state::<Tray>().map(|t| t.inner().clone()) else {
        return;
    };
    tauri::async_runtime::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(120));
        loop {
            let title =
                model::listening_title(&words.borrow(), level.as_ref().map_or(0.0, |l| l()));
            let _ = tray.icon.set_title(Some(&title));
            let _ = tray.icon.set_tooltip(Some(format!("Murmur: {title}")));
            tokio::select! {
                _ = tick.tick() => {}
                changed = words.changed() => if changed.is_err() { break },
            }
        }
        let _ = tray.icon.set_title(None::<&str>);
        tray.resync_now();
    });
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
