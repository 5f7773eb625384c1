//! Where voices come from, and fetching one: the sources of the voice catalog ([`piper`]:
//! Piper's `voices.json`; [`kokoro`]: Kokoro's style files on the Hub), the voices folder each
//! engine reads, and [`download`], which puts a voice's files there whole or not at all.
//! Both the voice catalog and the Kokoro engine's warm-up use these.

pub mod kokoro;
pub mod piper;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::Settings;
use crate::runtime::fetch::DownloadPolicy;
use crate::runtime::fetch::{self, Cancel, Digest, FetchError};

/// One voice, as the catalog shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogVoice {
    pub id: String,
    /// What a request names to speak with it (`voice`): Piper's short name (`joe`), Kokoro's id.
    pub voice: String,
    pub name: String,
    /// A BCP 47 tag (`en-US`, `ja`).
    pub language: Option<String>,
    pub gender: Option<String>,
    pub quality: Option<String>,
    /// Bytes to download, when the index says.
    pub size: Option<u64>,
    pub installed: bool,
    /// Installed voices that came with the engine cannot be removed.
    pub removable: bool,
}

/// A file of a voice, where it comes from and what it must hash to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    pub url: String,
    /// Its name in the voices folder.
    pub file_name: String,
    pub size: u64,
    pub digest: Digest,
}

/// The voices folder of the configured engine: `[engine] voices_dir`, else
/// `<data-dir>/voices/<engine>`.
pub fn voices_dir(settings: &Settings, data_dir: &Path) -> PathBuf {
    settings
        .engine
        .voices_dir
        .clone()
        .unwrap_or_else(|| data_dir.join("voices").join(settings.engine.id.as_str()))
}

/// Download every file of a voice; the folder gets them all or none.
pub async fn download(
    remote: &[Remote],
    staging: &Path,
    dir: &Path,
    policy: &DownloadPolicy,
    progress: &(dyn Fn(u64) + Send + Sync),
    cancel: &Cancel,
) -> Result<(), FetchError> {
    // One download of a voice at a time (the page's Install and Kokoro's warm-up share the
    // staging folder); the second finds it installed.
    let Some(last) = remote.last() else {
        return Ok(());
    };
    let _fetching = fetch::lock::lock(&dir.join(&last.file_name)).await;
    if remote
        .iter()
        .all(|file| dir.join(&file.file_name).is_file())
    {
        return Ok(());
    }
    let mut before = 0;
    let mut staged = Vec::new();
    for file in remote {
        let dest = staging.join(&file.file_name);
        let so_far = before;
        let progress = |done: u64, _total: Option<u64>| progress(so_far + done);
        let result = fetch::fetch(fetch::Request {
            source: &file.url,
            dest: &dest,
            digest: &file.digest,
            size: Some(file.size).filter(|size| *size > 0),
            policy,
            progress: &progress,
            cancel,
        })
        .await;
        if let Err(e) = result {
            for done in &staged {
                let _ = std::fs::remove_file(done);
            }
            return Err(e);
        }
        before += file.size;
        staged.push(dest);
    }
    std::fs::create_dir_all(dir).map_err(|e| FetchError::disk(dir, e))?;
    // The model file last: a voice is seen once its last file is in place.
    for (from, file) in staged.iter().zip(remote).rev() {
        let to = dir.join(&file.file_name);
        let moved = {
            let (from, to) = (from.clone(), to.clone());
            tokio::task::spawn_blocking(move || move_file(&from, &to))
                .await
                .unwrap_or_else(|e| Err(std::io::Error::other(e)))
        };
        if let Err(e) = moved {
            for file in remote {
                let _ = std::fs::remove_file(dir.join(&file.file_name));
            }
            return Err(FetchError::disk(&to, e));
        }
    }
    Ok(())
}

/// Blocking (a copy across file systems): on a blocking thread.
#[allow(clippy::disallowed_methods)]
fn move_file(from: &Path, to: &Path) -> std::io::Result<()> {
    match std::fs::rename(from, to) {
        Ok(()) => Ok(()),
        // Another file system (a voices folder elsewhere): copy beside, then rename.
        Err(_) => {
            let next = to.with_extension("partial-move");
            std::fs::copy(from, &next)?;
            std::fs::rename(&next, to)?;
            std::fs::remove_file(from)
        }
    }
}

/// An index, read whole: a few MB at most; one longer than
/// [`MAX_INDEX_BYTES`](crate::runtime::fetch::MAX_INDEX_BYTES) is refused as it arrives.
pub async fn get(url: &str) -> Result<Vec<u8>, crate::runtime::fetch::GetError> {
    use crate::runtime::fetch::{INDEX_STALL, MAX_INDEX_BYTES, fetch_whole};
    fetch_whole(url, MAX_INDEX_BYTES as u64, INDEX_STALL, &|_, _| {}).await
}
