//! Writing settings without ever leaving a half-written file, and without rewriting the
//! user's.
//!
//! Only the keys whose value changed are written: the rest of the file — its comments, its
//! order, the keys it leaves to Murmur's defaults — stays as the user wrote it (`toml_edit`),
//! so a later change of a default in Murmur still reaches them. A file that cannot be read is
//! replaced by one holding only what differs from the defaults.
//!
//! The new text goes to a temporary file beside the target, is flushed to disk, and then
//! renamed over it: a crash at any point leaves either the old file or the new one. The old
//! file is copied to `config.toml.bak` first, so a bad edit can always be undone by hand.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{ConfigError, Settings};

/// Validate-free atomic save: callers validate first (see [`super::check`]).
pub fn save(path: &Path, settings: &Settings) -> Result<(), ConfigError> {
    let text = updated_text(path, settings)?;
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
        #[allow(clippy::disallowed_methods)] // a settings file: a few KB
        fs_err::copy(path, &backup).map_err(write_err(&backup))?;
    }
    tmp.persist(path).map_err(|e| ConfigError::Write {
        path: path.to_path_buf(),
        source: e.error,
    })?;
    sync_dir(dir);
    Ok(())
}

/// The file's text with `settings` written into it, changing only what differs.
fn updated_text(path: &Path, settings: &Settings) -> Result<String, ConfigError> {
    let current = std::fs::read_to_string(path).ok();
    let parsed = current.as_deref().and_then(|text| {
        let doc = text.parse::<toml_edit::DocumentMut>().ok()?;
        let old = super::parse(text, path).ok()?;
        Some((doc, old))
    });
    let (mut doc, old) = parsed.unwrap_or_default();
    let old = toml::Table::try_from(&old)?;
    let new = toml::Table::try_from(settings)?;
    write_changes(doc.as_table_mut(), &old, &new)?;
    Ok(doc.to_string())
}

/// Make `doc` say `new` where `new` differs from `old` (what `doc` says now).
fn write_changes(
    doc: &mut toml_edit::Table,
    old: &toml::Table,
    new: &toml::Table,
) -> Result<(), ConfigError> {
    for (key, value) in new {
        let before = old.get(key);
        if before == Some(value) {
            continue;
        }
        match (before, value, doc.get_mut(key)) {
            (Some(toml::Value::Table(before)), toml::Value::Table(value), Some(item))
                if item.is_table() =>
            {
                let table = item.as_table_mut().expect("invariant: checked is_table");
                write_changes(table, before, value)?;
            }
            (_, toml::Value::Table(value), item) if item.as_ref().is_none_or(|i| i.is_table()) => {
                // A section the file does not have yet: only its keys that differ.
                let mut table = toml_edit::Table::new();
                let empty = toml::Table::new();
                let before = match before {
                    Some(toml::Value::Table(before)) => before,
                    _ => &empty,
                };
                write_changes(&mut table, before, value)?;
                if !table.is_empty() {
                    doc.insert(key, toml_edit::Item::Table(table));
                }
            }
            (_, value, Some(slot)) => {
                // Replaced in place: the key keeps the comments above it, the value the one
                // at the end of its line.
                let mut fresh = to_edit_value(value)?;
                if let Some(old) = slot.as_value() {
                    *fresh.decor_mut() = old.decor().clone();
                }
                *slot = toml_edit::Item::Value(fresh);
            }
            (_, value, None) => {
                doc.insert(key, toml_edit::Item::Value(to_edit_value(value)?));
            }
        }
    }
    let gone: Vec<String> = old
        .keys()
        .filter(|key| !new.contains_key(*key))
        .cloned()
        .collect();
    for key in gone {
        doc.remove(&key);
    }
    Ok(())
}

fn to_edit_value(value: &toml::Value) -> Result<toml_edit::Value, ConfigError> {
    value
        .to_string()
        .parse::<toml_edit::Value>()
        .map_err(|e| ConfigError::Write {
            path: PathBuf::from("config.toml"),
            source: std::io::Error::other(e.to_string()),
        })
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
    fn a_save_changes_only_the_lines_that_changed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.toml");
        let mine = "# My Murmur\n\n[engine]\n# a calm voice\nspeed = 0.9   # slower\nlang_code = \"auto\"\n\n[supervisor]\nmax_restarts = 5\n";
        std::fs::write(&path, mine).expect("write");
        let mut settings = load_file(&path).expect("load");
        settings.engine.speed = 1.5;
        save(&path, &settings).expect("save");
        let saved = std::fs::read_to_string(&path).expect("read");
        assert_eq!(saved, mine.replace("speed = 0.9", "speed = 1.5"));
        assert_eq!(load_file(&path).expect("reload"), settings);

        // New keys go into their section; a removed optional key goes away.
        settings.proxy.api_key = Some("secret".into());
        settings.engine.voice = Some("amy".into());
        save(&path, &settings).expect("save");
        settings.proxy.api_key = None;
        save(&path, &settings).expect("save");
        let saved = std::fs::read_to_string(&path).expect("read");
        assert!(saved.starts_with("# My Murmur\n"), "{saved}");
        assert!(saved.contains("# a calm voice\n"), "{saved}");
        assert!(saved.contains("voice = \"amy\""), "{saved}");
        assert!(!saved.contains("api_key"), "{saved}");
        assert!(
            !saved.contains("max_queue"),
            "defaults are not written out: {saved}"
        );
        assert_eq!(load_file(&path).expect("reload"), settings);
    }

    #[test]
    fn an_empty_file_gets_only_what_differs_from_the_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "").expect("write");
        let mut settings = Settings::default();
        settings.supervisor.idle_unload_secs = 600;
        save(&path, &settings).expect("save");
        let saved = std::fs::read_to_string(&path).expect("read");
        assert_eq!(saved.trim(), "[supervisor]\nidle_unload_secs = 600");
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
