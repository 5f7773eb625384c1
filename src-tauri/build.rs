fn main() {
    // tauri.conf.json lives at the repository root (the product's layout). tauri-build 2 reads
    // the config from this crate's folder, so src-tauri/{tauri.conf.json,ui,icons} are
    // symlinks to the root; `cargo tauri` needs the same links.
    tauri_build::build();
}
