// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use clap::Parser;

/// Murmur: a local, OpenAI-compatible speech server in the menu bar.
#[derive(Parser)]
#[command(name = "murmur", version)]
struct Cli {
    #[command(flatten)]
    args: murmur_core::cli::Args,
    /// Run as the settings window's process (the tray starts it).
    #[arg(long = "settings-window", hide = true)]
    settings_window: bool,
}

fn main() {
    let cli = Cli::parse();
    if cli.settings_window {
        murmur_lib::window::run();
    } else {
        murmur_lib::desktop::tray_without_gl();
        murmur_lib::run(cli.args);
    }
}
