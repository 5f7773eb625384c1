//! A desk's environment, usable from any thread: commands with its display, bus and sound
//! server, and what panels read off the bus (the tray icon's label).

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A desk's display, bus and sound server, for commands from any thread.
#[derive(Clone)]
pub struct Session {
    pub(super) env: Vec<(String, String)>,
    pub(super) home: PathBuf,
}

impl Session {
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env_remove("WAYLAND_DISPLAY")
            .env("HOME", &self.home)
            .stdin(Stdio::null());
        command
    }

    /// The text the app's tray icon shows beside it (its StatusNotifierItem's label, as panels
    /// read it over D-Bus), if the app has one on the bus.
    pub fn tray_label(&self) -> Option<String> {
        self.label_of(&self.tray_owner()?)
    }

    /// The tray label that the bus peer `name` exports, if it exports one.
    pub fn label_of(&self, name: &str) -> Option<String> {
        let out = self
            .command("gdbus")
            .args(["call", "--session", "--timeout", "2", "--dest", name])
            .args([
                "--object-path",
                "/org/ayatana/NotificationItem/tray_icon_tray_app_murmur",
            ])
            .args(["--method", "org.freedesktop.DBus.Properties.Get"])
            .args(["org.kde.StatusNotifierItem", "XAyatanaLabel"])
            .output()
            .ok()?;
        out.status.success().then(|| {
            // (<'the label'>,)
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.trim()
                .trim_start_matches("(<'")
                .trim_end_matches("'>,)")
                .to_string()
        })
    }

    /// The bus name of the app's tray icon.
    pub fn tray_owner(&self) -> Option<String> {
        let names = self
            .command("gdbus")
            .args([
                "call",
                "--session",
                "--timeout",
                "2",
                "--dest",
                "org.freedesktop.DBus",
            ])
            .args(["--object-path", "/org/freedesktop/DBus"])
            .args(["--method", "org.freedesktop.DBus.ListNames"])
            .output()
            .ok()?;
        let names = String::from_utf8_lossy(&names.stdout).into_owned();
        names
            .split('\'')
            .filter(|n| n.starts_with(":1."))
            .find(|name| self.label_of(name).is_some())
            .map(String::from)
    }
}
