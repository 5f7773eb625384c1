// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    if std::env::args().any(|arg| arg == murmur_lib::window::ARG) {
        murmur_lib::window::run();
    } else {
        murmur_lib::desktop::tray_without_gl();
        murmur_lib::run();
    }
}
