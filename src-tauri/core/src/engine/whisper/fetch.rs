//! Fetching a Hub model into its folder: resolved once to a commit, every file verified,
//! resumed, renamed into place whole, and stamped when complete (see [`super`]'s docs).

use std::path::Path;

use serde::Deserialize;

use super::catalog::{MB, STAMP, wanted};
use crate::problem::{Problem, Stage};
use crate::runtime::fetch::{self, Cancel, FetchError};
use crate::runtime::fetch::{DownloadPolicy, GetError, fetch_json};
use crate::runtime::hub::TreeEntry;

#[derive(Deserialize)]
struct RepoInfo {
    sha: String,
}

const OFFLINE_HINT: &str = "connect to the internet once, set [runtime] huggingface_url to a \
     mirror, or point [transcription] model at a model folder";

/// The Hub's listings are small; a larger answer is not the Hub.
const MAX_LISTING: usize = 4 * 1024 * 1024;

/// Fetch repository `repo` into `dest` (see the module docs), unless it is there. Unlike a
/// voice (`voices::download`, all files or none), a model's finished files stay when a later
/// one fails: a 3 GB model resumes where it stopped, and the stamp says when it is whole.
pub async fn fetch_model(
    hub: &str,
    repo: &str,
    dest: &Path,
    progress: &crate::runtime::Progress,
    log: &(dyn Fn(&str) + Send + Sync),
    cancel: &Cancel,
) -> Result<(), Problem> {
    // One fetch per folder at a time: the page's Install and the engine's warm-up may ask
    // for the same model at once; the second waits, then finds it installed.
    let _fetching = crate::runtime::fetch::lock::lock(dest).await;
    if dest.join(STAMP).is_file() {
        return Ok(());
    }
    let hub = hub.trim_end_matches('/');
    let unreachable = |why: &dyn std::fmt::Display| {
        Problem::new(format!(
            "the Whisper model {repo} could not be downloaded: {why}"
        ))
        .hint(OFFLINE_HINT)
    };
    progress.stage(Stage::Model, format!("looking up the model {repo}"));
    let info = get_json::<RepoInfo>(&format!("{hub}/api/models/{repo}/revision/main"))
        .await
        .map_err(|e| unreachable(&e))?;
    let tree = get_json::<Vec<TreeEntry>>(&format!("{hub}/api/models/{repo}/tree/{}", info.sha))
        .await
        .map_err(|e| unreachable(&e))?;
    let files: Vec<TreeEntry> = tree
        .into_iter()
        .filter(|f| f.is_file() && wanted(&f.path))
        .collect();
    if !files.iter().any(|f| f.path == "model.bin") {
        return Err(Problem::new(format!(
            "{repo} is not a faster-whisper model: it has no model.bin"
        ))
        .hint(
            "name a catalog model (tiny, base, small, large-v3-turbo, …) or a repository in \
             CTranslate2's format",
        ));
    }
    let total: u64 = files.iter().map(|f| f.size).sum();
    room_for(repo, dest, total)?;
    let message = format!("downloading the Whisper model {repo}");
    let mut before = 0;
    for file in &files {
        let digest = file.digest();
        let source = format!("{hub}/{repo}/resolve/{}/{}", info.sha, file.path);
        let report = |done: u64, _total: Option<u64>| {
            progress.bytes(
                Stage::Model,
                &message,
                before + done.min(file.size),
                Some(total),
            );
        };
        fetch::fetch(fetch::Request {
            source: &source,
            dest: &dest.join(&file.path),
            digest: &digest,
            size: Some(file.size),
            policy: &DownloadPolicy::default(),
            progress: &report,
            cancel,
        })
        .await
        .map_err(|e| match e {
            FetchError::Mismatch(why) => {
                Problem::new(format!("the Whisper model {repo}: {}: {why}", file.path)).hint(
                    "the download was damaged or the mirror serves other files: restart \
                 transcription to fetch it again",
                )
            }
            e @ FetchError::Disk { .. } => {
                Problem::new(format!("the Whisper model cannot be written: {e}"))
                    .hint(format!("check free disk space ({} MB needed)", total / MB))
            }
            other => unreachable(&other),
        })?;
        before += file.size;
    }
    let stamp = serde_json::json!({ "repo": repo, "revision": info.sha });
    fs_err::write(dest.join(STAMP), stamp.to_string()).map_err(|e| {
        Problem::new(format!("the Whisper model cannot be written: {e}"))
            .hint("check that Murmur's data folder is writable")
    })?;
    log(&format!(
        "[murmur] Whisper model {repo} (commit {}) installed in {}",
        info.sha,
        dest.display()
    ));
    Ok(())
}

/// The largest model Murmur downloads: large-v3 in float32 is 3.1 GB; a listing that claims
/// more is not a Whisper model.
pub(super) const MAX_MODEL_BYTES: u64 = 16_000 * MB;

/// Free space Murmur leaves on the disk after a download.
const DISK_MARGIN: u64 = 200 * MB;

/// Whether `total` bytes of `repo` may be downloaded into `dest`: no more than any Whisper
/// model is, and no more than the disk has free (less what is already there, which a resume
/// keeps). Checked before the first byte.
fn room_for(repo: &str, dest: &Path, total: u64) -> Result<(), Problem> {
    if total > MAX_MODEL_BYTES {
        return Err(Problem::new(format!(
            "the Hub lists {repo} at {} MB, more than any Whisper model ({} MB); it was not downloaded",
            total / MB,
            MAX_MODEL_BYTES / MB
        ))
        .hint("name a catalog model (tiny, base, small, large-v3-turbo, …)"));
    }
    let have = folder_bytes_including_parts(dest);
    let need = total.saturating_sub(have);
    if let Some(free) = crate::runtime::fetch::free_space(dest)
        && free < need.saturating_add(DISK_MARGIN)
    {
        return Err(Problem::new(format!(
            "the Whisper model {repo} needs {} MB and the disk has {} MB free",
            need / MB,
            free / MB
        ))
        .hint("free some disk space, or choose a smaller model"));
    }
    Ok(())
}

/// Bytes already in `dest`, finished files and partial ones.
fn folder_bytes_including_parts(dest: &Path) -> u64 {
    std::fs::read_dir(dest).map_or(0, |entries| {
        entries
            .flatten()
            .filter_map(|e| e.metadata().ok())
            .filter(std::fs::Metadata::is_file)
            .map(|m| m.len())
            .sum()
    })
}

async fn get_json<T: serde::de::DeserializeOwned>(url: &str) -> Result<T, GetError> {
    fetch_json(url, MAX_LISTING as u64, "the Hub's API").await
}
