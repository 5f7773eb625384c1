//! The dictation history: the last [`KEEP`] dictations' text (never their audio), in
//! `<data-dir>/dictations.json`, readable by the user only. Written whole and atomically
//! after each change, so a crash leaves the previous list. Off (`[dictation] history =
//! false`), nothing is written and what was kept is removed.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// How many dictations are kept.
pub const KEEP: usize = 50;

/// One dictation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: u64,
    /// Unix time in milliseconds when the shortcut went down.
    pub at_ms: u64,
    pub text: String,
    /// Seconds of speech heard.
    pub audio_secs: f64,
    /// From the shortcut's release to the text being ready.
    pub text_ms: f64,
    pub outcome: Outcome,
}

/// Where the text went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pasted,
    Typed,
    /// It could not be inserted: it was left on the clipboard.
    OnClipboard,
}

/// The kept dictations, newest last.
#[derive(Debug)]
pub struct History {
    file: PathBuf,
    items: Mutex<Vec<Entry>>,
}

impl History {
    /// The history in `data_dir` (empty when there is none, or it cannot be read: a broken
    /// file is set aside as `dictations.json.broken`, not lost).
    pub fn open(data_dir: &Path) -> Self {
        let file = data_dir.join("dictations.json");
        let items = match std::fs::read(&file) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!("dictation history {} is unreadable: {e}", file.display());
                let _ = std::fs::rename(&file, file.with_extension("json.broken"));
                Vec::new()
            }),
            Err(_) => Vec::new(),
        };
        Self {
            file,
            items: Mutex::new(items),
        }
    }

    fn items(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.items
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every kept dictation, newest first.
    pub fn list(&self) -> Vec<Entry> {
        self.items().iter().rev().cloned().collect()
    }

    pub fn get(&self, id: u64) -> Option<Entry> {
        self.items().iter().find(|d| d.id == id).cloned()
    }

    /// Keep `dictation` (its id is assigned here), forgetting the oldest beyond [`KEEP`].
    pub fn add(&self, mut dictation: Entry) -> std::io::Result<u64> {
        let mut items = self.items();
        dictation.id = items.last().map_or(1, |d| d.id + 1);
        let id = dictation.id;
        items.push(dictation);
        let extra = items.len().saturating_sub(KEEP);
        items.drain(..extra);
        self.write(&items)?;
        Ok(id)
    }

    /// Forget one; answers whether it was kept.
    pub fn remove(&self, id: u64) -> std::io::Result<bool> {
        let mut items = self.items();
        let before = items.len();
        items.retain(|d| d.id != id);
        if items.len() == before {
            return Ok(false);
        }
        self.write(&items)?;
        Ok(true)
    }

    /// Forget all, and the file with them.
    pub fn clear(&self) -> std::io::Result<()> {
        self.items().clear();
        match std::fs::remove_file(&self.file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    fn write(&self, items: &[Entry]) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(items).map_err(std::io::Error::other)?;
        let temporary = self.file.with_extension("json.tmp");
        {
            use std::io::Write;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&temporary)?;
            file.write_all(&json)?;
            file.sync_all()?;
        }
        std::fs::rename(&temporary, &self.file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(text: &str) -> Entry {
        Entry {
            id: 0,
            at_ms: 1,
            text: text.into(),
            audio_secs: 1.5,
            text_ms: 120.0,
            outcome: Outcome::Typed,
        }
    }

    #[test]
    fn the_history_keeps_the_last_fifty_across_restarts_and_forgets_on_request() {
        let dir = tempfile::tempdir().expect("dir");
        let history = History::open(dir.path());
        for n in 0..60 {
            history.add(said(&format!("number {n}"))).expect("add");
        }
        let reopened = History::open(dir.path());
        let kept = reopened.list();
        assert_eq!(kept.len(), KEEP);
        assert_eq!(kept[0].text, "number 59");
        assert_eq!(kept[KEEP - 1].text, "number 10");
        assert_eq!(reopened.get(kept[0].id), Some(kept[0].clone()));
        assert!(reopened.remove(kept[0].id).expect("remove"));
        assert!(!reopened.remove(kept[0].id).expect("remove"));
        assert_eq!(History::open(dir.path()).list()[0].text, "number 58");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("dictations.json"))
                .expect("file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        reopened.clear().expect("clear");
        assert!(!dir.path().join("dictations.json").exists());
        assert!(History::open(dir.path()).list().is_empty());
    }

    #[test]
    fn a_broken_history_is_set_aside_not_lost() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("dictations.json"), b"{nope").expect("write");
        let history = History::open(dir.path());
        assert!(history.list().is_empty());
        assert_eq!(
            std::fs::read(dir.path().join("dictations.json.broken")).expect("kept"),
            b"{nope"
        );
        history.add(said("after")).expect("add");
        assert_eq!(History::open(dir.path()).list()[0].text, "after");
    }
}
