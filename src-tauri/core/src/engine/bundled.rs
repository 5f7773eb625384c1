//! What the engines that run in Murmur's own Python runtimes share: finding their bundled
//! project, the launch under `murmur_launch` with the `PYTHONPATH` and `PATH` they need, and
//! the paths Murmur's own engine servers answer.

use std::collections::BTreeMap;
use std::path::Path;

use super::Launch;
use crate::runtime::Runtime;

/// The paths Murmur's own engine servers (Piper's, Kokoro's; `python-runtime/shared`) answer.
pub(super) const MURMUR_SERVER_PATHS: &[&str] = &[
    "/v1/models",
    "/v1/audio/models",
    "/v1/audio/voices",
    "/v1/audio/speech",
];

/// `PYTHONPATH` for a runtime: its folder, then `extra` (the engine's project).
pub(super) fn python_path(runtime: Option<&Runtime>, extra: Option<&Path>) -> String {
    let mut path: Vec<String> = runtime
        .iter()
        .map(|r| r.dir.to_string_lossy().into_owned())
        .collect();
    path.extend(extra.map(|p| p.to_string_lossy().into_owned()));
    path.join(":")
}

/// Where GUI-launched apps on macOS do not look, but tools such as ffmpeg live.
const EXTRA_PATH: [&str; 3] = ["/opt/homebrew/bin", "/usr/local/bin", "/usr/bin"];

/// `PATH` for an engine: the inherited one plus the usual tool folders.
fn engine_path() -> String {
    let mut dirs: Vec<String> = std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .filter(|d| !d.is_empty())
        .map(String::from)
        .collect();
    for extra in EXTRA_PATH {
        if !dirs.iter().any(|d| d == extra) {
            dirs.push(extra.to_string());
        }
    }
    dirs.join(":")
}

/// A bundled engine's server `module args…`, run by the runtime's Python under the launcher
/// (`-m murmur_launch module …`), so that the engine exits with Murmur. Its `PYTHONPATH` has
/// the project and `python-runtime/shared` beside it (code the engine servers share).
pub(super) fn bundled_launch(
    runtime: &Runtime,
    project: &Path,
    module_and_args: Vec<String>,
) -> Launch {
    let mut args: Vec<String> = vec!["-m".into(), "murmur_launch".into()];
    args.extend(module_and_args);
    let mut path = python_path(Some(runtime), Some(project));
    if let Some(shared) = project.parent().map(|p| p.join("shared")) {
        path.push(':');
        path.push_str(&shared.to_string_lossy());
    }
    let env = BTreeMap::from([
        ("PYTHONPATH".to_string(), path),
        ("PATH".to_string(), engine_path()),
        ("PYTHONUNBUFFERED".to_string(), "1".to_string()),
    ]);
    Launch {
        program: runtime.python.to_string_lossy().into_owned(),
        args,
        cwd: None,
        env,
        probe_path: "/v1/models".into(),
        stdin_guard: true,
    }
}

/// Put the project's unpacked assets (`assets.toml`) on the launch's `PYTHONPATH`.
pub(super) fn add_assets(launch: &mut Launch, project: &Path, data_dir: &Path) {
    let assets = crate::runtime::assets::installed_dirs(project, data_dir);
    if let Some(path) = launch.env.get_mut("PYTHONPATH") {
        for dir in assets {
            path.push(':');
            path.push_str(&dir.to_string_lossy());
        }
    }
}
