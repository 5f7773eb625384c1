//! Writing settings without ever leaving a half-written file.
//!
//! The new text goes to a temporary file beside the target, is flushed to disk, and then
//! renamed over it: a crash at any point leaves either the old file or the new one. The old
//! file is copied to `config.toml.bak` first, so a bad edit can always be undone by hand.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{ConfigError, Settings};

/// Validate-free atomic save: callers validate first (see [`super::check`]).
pub fn save(path: &Path, settings: &Settings) -> Result<(), ConfigError> {
    let text = toml::to_string_pretty(settings)?;
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ConfigError::Write { path, source }
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs_err::create_dir_all(dir).map_err(write_err(dir))?;

    let mut tmp = tempfile::Builder::new()
        .prefix(".config.toml.")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(write_err(dir))?;
    tmp.write_all(text.as_bytes())
        .map_err(write_err(tmp.path()))?;
    tmp.as_file().sync_all().map_err(write_err(tmp.path()))?;

    if path.exists() {
        let backup = backup_path(path);
        fs_err::copy(path, &backup).map_err(write_err(&backup))?;
    }
    tmp.persist(path).map_err(|e| ConfigError::Write {
        path: path.to_path_buf(),
        source: e.error,
    })?;
    sync_dir(dir);
    Ok(())
}

/// `config.toml` → `config.toml.bak`.
pub fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".bak");
    path.with_file_name(name)
}

/// Make the rename itself durable. Best effort: not every platform can open a directory.
fn sync_dir(dir: &Path) {
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{EngineId, load_file};

    #[test]
    fn save_round_trips_and_keeps_a_backup() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested/config.toml");
        let mut settings = Settings::default();
        settings.proxy.port = 4242;
        save(&path, &settings).expect("first save");
        assert!(
            !backup_path(&path).exists(),
            "nothing to back up the first time"
        );

        let mut changed = settings.clone();
        changed.engine.id = EngineId::External;
        changed.engine.url = Some("http://127.0.0.1:9000".into());
        save(&path, &changed).expect("second save");

        assert_eq!(load_file(&path).expect("reload"), changed);
        assert_eq!(load_file(&backup_path(&path)).expect("backup"), settings);
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().expect("dir"))
            .expect("list")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    }

    #[test]
    fn a_failed_save_keeps_the_old_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[proxy]\nport = 5\n").expect("write");
        // A directory where the backup should go makes the save fail before the rename.
        std::fs::create_dir(backup_path(&path)).expect("mkdir");
        let err = save(&path, &Settings::default()).expect_err("backup path is a directory");
        assert!(err.to_string().contains("config.toml.bak"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "[proxy]\nport = 5\n"
        );
    }
}
