//! Finding the Python projects Murmur ships (`python-runtime/<engine>/`) wherever Murmur runs
//! from: `MURMUR_RESOURCES` if set; the app bundle's resources (macOS `.app`, Linux `.deb`);
//! beside an installed `murmurd`; and the source tree, for `cargo run` and tests. The app
//! bundle's folder is the desktop shell's to know: it comes in [`crate::paths::Paths`].

use std::path::{Path, PathBuf};

/// Overrides every other location (packagers, tests).
pub const ENV_RESOURCES: &str = "MURMUR_RESOURCES";

/// The folders searched for `python-runtime/`, most specific first: `app` is the app
/// bundle's resource folder (Tauri's `resource_dir`), when Murmur runs from one.
pub fn search_roots(exe: Option<&Path>, app: Option<&Path>) -> Vec<PathBuf> {
    let mut roots = Vec::new();
    if let Some(dir) = std::env::var_os(ENV_RESOURCES) {
        roots.push(PathBuf::from(dir));
    }
    roots.extend(app.map(Path::to_path_buf));
    if let Some(bin) = exe.and_then(Path::parent) {
        roots.push(bin.join("../Resources")); // macOS: Murmur.app/Contents/MacOS/murmur
        roots.push(bin.join("../lib/Murmur")); // Linux .deb: /usr/bin/murmur → /usr/lib/Murmur
        roots.push(bin.join("../lib/murmur")); // a distribution's own package
        roots.push(bin.join("../share/murmur")); // make install, Homebrew
        roots.push(bin.to_path_buf()); // unpacked next to the binary
    }
    roots.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")); // the source tree
    roots
}

/// `python-runtime/<name>` with a `pyproject.toml`, from the first root that has one.
pub fn locate(name: &str, app: Option<&Path>) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok();
    search_roots(exe.as_deref(), app)
        .into_iter()
        .map(|root| root.join("python-runtime").join(name))
        .find(|dir| dir.join("pyproject.toml").is_file())
        .and_then(|dir| dir.canonicalize().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file of the shipped Python projects is in the app bundle (`tauri.conf.json`
    /// resources): a file missing there is missing on every installed Murmur.
    #[test]
    fn the_bundle_carries_every_shipped_engine_file() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let conf: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(root.join("tauri.conf.json")).expect("tauri.conf.json"),
        )
        .expect("JSON");
        let bundled = conf["bundle"]["resources"]
            .as_object()
            .expect("resources as a map");
        let runtime = root.join("python-runtime");
        let mut shipped = vec!["python-runtime/murmur_launch.py".to_string()];
        for folder in std::fs::read_dir(&runtime)
            .expect("python-runtime")
            .flatten()
        {
            if !folder.path().is_dir() {
                continue;
            }
            for file in std::fs::read_dir(folder.path()).expect("folder").flatten() {
                let name = file.file_name().to_string_lossy().into_owned();
                if file.path().is_file() && !name.ends_with(".pyc") {
                    shipped.push(format!(
                        "python-runtime/{}/{name}",
                        folder.file_name().to_string_lossy()
                    ));
                }
            }
        }
        for file in shipped {
            assert_eq!(
                bundled.get(&format!("../{file}")).and_then(|v| v.as_str()),
                Some(file.as_str()),
                "{file} is not in tauri.conf.json's bundle resources"
            );
        }
    }

    #[test]
    fn the_source_tree_is_found_from_cargo() {
        // The launcher ships at python-runtime/murmur_launch.py; a project beside it is found.
        let root = search_roots(None, None)
            .pop()
            .expect("the source tree root");
        assert!(
            root.join("python-runtime/murmur_launch.py").is_file(),
            "{}",
            root.display()
        );
    }

    #[test]
    fn the_bundle_layouts_are_searched() {
        let roots = search_roots(
            Some(Path::new("/Applications/Murmur.app/Contents/MacOS/murmur")),
            None,
        );
        assert!(roots.contains(&PathBuf::from(
            "/Applications/Murmur.app/Contents/MacOS/../Resources"
        )));
        let roots = search_roots(Some(Path::new("/usr/bin/murmurd")), None);
        assert!(roots.contains(&PathBuf::from("/usr/bin/../lib/Murmur")));
    }

    #[test]
    fn the_app_bundle_is_searched_right_after_the_override() {
        let roots = search_roots(None, Some(Path::new("/opt/Murmur/resources")));
        let at = roots
            .iter()
            .position(|r| r == Path::new("/opt/Murmur/resources"));
        let expected = usize::from(std::env::var_os(ENV_RESOURCES).is_some());
        assert_eq!(at, Some(expected), "{roots:?}");
    }

    #[test]
    fn a_missing_project_is_none() {
        assert_eq!(locate("no-such-engine", None), None);
    }
}
