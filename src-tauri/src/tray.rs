//! The tray icon and its menu.

use tauri::AppHandle;
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;

const ICON_STOPPED: &[u8] = include_bytes!("../../icons/tray-stopped.png");

pub fn build(app: &AppHandle) -> tauri::Result<()> {
    let status = MenuItem::with_id(app, "status", "Murmur", false, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit Murmur", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&status, &quit])?;
    TrayIconBuilder::with_id("murmur")
        .icon(Image::from_bytes(ICON_STOPPED)?)
        .tooltip("Murmur")
        .menu(&menu)
        .on_menu_event(|app, event| {
            if event.id.as_ref() == "quit" {
                crate::quit(app);
            }
        })
        .build(app)?;
    Ok(())
}
