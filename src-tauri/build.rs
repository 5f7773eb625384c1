fn main() {
    // tauri.conf.json lives at the repository root (the product's layout); tauri-build only
    // takes the folder of the path given here, the file name is fixed.
    let attributes = tauri_build::Attributes::new().config_path("../tauri.conf.json");
    if let Err(error) = tauri_build::try_build(attributes) {
        panic!("tauri-build failed: {error:#}");
    }
}
