//! Fetching, the one module every download goes through: [`fetch`] puts one file from a URL
//! or a folder onto disk, whole and verified or not at all (the engine assets, Kokoro's
//! model, every voice, Whisper's models); [`whole`] reads a URL's body whole and bounded (an
//! index, a listing, uv's wheel); [`retry`] is how hard either tries. All use one HTTP client
//! ([`crate::http_client::downloads`]).
//!
//! The bytes go to `<dest>.part` beside the destination; an interrupted download resumes from
//! what that holds (`Range`); the finished file is checked against its digest (sha256, or the
//! md5 an index such as Piper's gives) and renamed into place, so `dest` is whole or absent. A
//! mismatch discards the part file, and so does a transfer that grows past the expected size
//! (when it is known: stopped at once, not when the stream ends). Progress is reported as
//! bytes; a cancel flag stops the transfer between chunks (the part file stays, for a later
//! resume). Writing and hashing run off the async workers (a 300 MB model takes seconds to
//! hash; the proxy keeps answering meanwhile).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::io::AsyncWriteExt;

use futures_util::StreamExt;
use md5::Md5;
use sha2::{Digest as _, Sha256};

pub mod lock;
mod retry;
mod whole;

pub use retry::DownloadPolicy;
pub(crate) use retry::{retry, retry_unless};
pub use whole::{GetError, INDEX_STALL, MAX_INDEX_BYTES, Stalled};
pub(crate) use whole::{fetch_json, fetch_whole, within};

/// What the finished file must hash to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Digest {
    Sha256(String),
    Md5(String),
    /// Git's blob id (sha1 of `blob <len>\0` and the bytes): what the Hugging Face Hub lists
    /// for a small file kept outside LFS.
    GitBlob(String),
}

impl Digest {
    fn name(&self) -> &'static str {
        match self {
            Self::Sha256(_) => "sha256",
            Self::Md5(_) => "md5",
            Self::GitBlob(_) => "git blob id",
        }
    }

    fn expected(&self) -> &str {
        match self {
            Self::Sha256(hex) | Self::Md5(hex) | Self::GitBlob(hex) => hex,
        }
    }

    /// The digest of the file at `path`, in the same kind.
    fn of(&self, path: &Path) -> std::io::Result<String> {
        let mut file = std::fs::File::open(path)?;
        Ok(match self {
            Self::Sha256(_) => {
                let mut hasher = Sha256::new();
                std::io::copy(&mut file, &mut hasher)?;
                hex(&hasher.finalize())
            }
            Self::Md5(_) => {
                let mut hasher = Md5::new();
                std::io::copy(&mut file, &mut hasher)?;
                hex(&hasher.finalize())
            }
            Self::GitBlob(_) => {
                let mut hasher = sha1::Sha1::new();
                hasher.update(format!("blob {}\0", file.metadata()?.len()).as_bytes());
                std::io::copy(&mut file, &mut hasher)?;
                hex(&hasher.finalize())
            }
        })
    }
}

/// Why a file is not in place.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The source could not be read (offline, 404, a stall): the part file stays for a resume.
    /// `said` is for people; the cause is its source.
    #[error("{said}")]
    Unreachable {
        said: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The bytes are not the pinned ones: discarded.
    #[error("{0}")]
    Mismatch(String),
    /// Writing `path` failed (disk full, permissions): the part file is removed.
    #[error("{}: {source}", path.display())]
    Disk {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cancelled")]
    Cancelled,
}

/// Bytes free for Murmur on the disk that holds `path` (or, while it does not exist yet, its
/// nearest existing parent); `None` where that cannot be read.
pub fn free_space(path: &Path) -> Option<u64> {
    let existing = path.ancestors().find(|p| p.exists())?;
    free_space_of(existing)
}

#[cfg(unix)]
#[allow(clippy::useless_conversion)] // the field types differ between platforms
fn free_space_of(path: &Path) -> Option<u64> {
    let stat = nix::sys::statvfs::statvfs(path).ok()?;
    Some(u64::from(stat.blocks_available()).saturating_mul(u64::from(stat.fragment_size())))
}

#[cfg(not(unix))]
fn free_space_of(_path: &Path) -> Option<u64> {
    None
}

impl FetchError {
    /// `said`, because of `source`.
    pub fn unreachable(
        said: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Unreachable {
            said: said.into(),
            source: Box::new(source),
        }
    }

    /// `url` could not be reached: said as people read it, the chain kept.
    fn reaching(url: &str, source: reqwest::Error) -> Self {
        Self::unreachable(crate::http_client::download_failure(url, &source), source)
    }

    fn stalled(stall: Stalled) -> Self {
        Self::unreachable(stall.to_string(), stall)
    }

    /// Writing `path` failed with `source`.
    pub fn disk(path: &Path, source: std::io::Error) -> Self {
        Self::Disk {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Stops a transfer from another task. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// One file to fetch.
pub struct Request<'a> {
    /// An `http(s)://` URL, or a path to a file in a folder standing in for the source.
    pub source: &'a str,
    pub dest: &'a Path,
    pub digest: &'a Digest,
    /// Its size, when the source says it: more than this is refused.
    pub size: Option<u64>,
    pub policy: &'a DownloadPolicy,
    /// Bytes so far and the total, when known.
    pub progress: &'a (dyn Fn(u64, Option<u64>) + Send + Sync),
    pub cancel: &'a Cancel,
}

/// `<dest>.part`: where the bytes collect until they are verified.
pub fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    dest.with_file_name(name)
}

/// Fetch `request.source` into `request.dest` (see the module docs).
pub async fn fetch(request: Request<'_>) -> Result<(), FetchError> {
    let dest = request.dest;
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).map_err(|e| FetchError::disk(dir, e))?;
    }
    let partial = part_path(dest);
    let source = request.source;
    if source.starts_with("http://") || source.starts_with("https://") {
        retry_unless(
            request.policy,
            |e| matches!(e, FetchError::Mismatch(_) | FetchError::Cancelled),
            || transfer(source, &partial, &request),
        )
        .await?;
    } else {
        // A model copied from a folder is hundreds of MB: on a blocking thread.
        let (from, to, size) = (PathBuf::from(source), partial.clone(), request.size);
        let total = tokio::task::spawn_blocking(move || copy_local(&from, &to, size))
            .await
            .map_err(|e| FetchError::unreachable(format!("copying {source} failed"), e))??;
        (request.progress)(total, Some(total));
    }
    let digest = request.digest.clone();
    let hashed = partial.clone();
    let actual = tokio::task::spawn_blocking(move || digest.of(&hashed))
        .await
        .map_err(|e| FetchError::disk(&partial, std::io::Error::other(e)))?
        .map_err(|e| FetchError::disk(&partial, e))?;
    let digest = request.digest;
    if !actual.eq_ignore_ascii_case(digest.expected()) {
        let _ = std::fs::remove_file(&partial);
        return Err(FetchError::Mismatch(format!(
            "{source} does not match its {} (expected {}, got {actual}); it was discarded",
            digest.name(),
            digest.expected()
        )));
    }
    std::fs::rename(&partial, dest).map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        FetchError::disk(dest, e)
    })
}

/// One attempt: download into `partial`, resuming what an earlier attempt left there.
async fn transfer(url: &str, partial: &Path, request: &Request<'_>) -> Result<(), FetchError> {
    if request.cancel.is_cancelled() {
        return Err(FetchError::Cancelled);
    }
    let have = std::fs::metadata(partial).map_or(0, |m| m.len());
    let stall = request.policy.stall_timeout;
    let mut get = crate::http_client::downloads().get(url);
    if have > 0 {
        get = get.header(http::header::RANGE, format!("bytes={have}-"));
    }
    let response = within(stall, url, get.send())
        .await
        .map_err(FetchError::stalled)?
        .map_err(|e| FetchError::reaching(url, e))?;
    if have > 0 && response.status() == http::StatusCode::RANGE_NOT_SATISFIABLE {
        // The part file is already whole (or longer than the file): verify what is there.
        return Ok(());
    }
    let response = response
        .error_for_status()
        .map_err(|e| FetchError::reaching(url, e))?;
    let resumed = have > 0 && response.status() == http::StatusCode::PARTIAL_CONTENT;
    let start = if resumed { have } else { 0 };
    let total = response.content_length().map(|n| n + start);
    let too_large = |length: u64| {
        request.size.filter(|size| length > *size).map(|size| {
            let _ = std::fs::remove_file(partial);
            FetchError::Mismatch(format!(
                "{url} sends more than its {size} bytes; it was stopped and discarded"
            ))
        })
    };
    if let Some(error) = total.and_then(too_large) {
        return Err(error);
    }
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(resumed)
        .truncate(!resumed)
        .open(partial)
        .await
        .map_err(|e| FetchError::disk(partial, e))?;
    let mut done = start;
    (request.progress)(done, total);
    let mut stream = response.bytes_stream();
    while let Some(chunk) = within(stall, url, stream.next())
        .await
        .map_err(FetchError::stalled)?
    {
        if request.cancel.is_cancelled() {
            return Err(FetchError::Cancelled);
        }
        let chunk = chunk.map_err(|e| FetchError::reaching(url, e))?;
        done += chunk.len() as u64;
        if let Some(error) = too_large(done) {
            drop(file);
            return Err(error);
        }
        if let Err(e) = file.write_all(&chunk).await {
            drop(file);
            let _ = std::fs::remove_file(partial);
            return Err(FetchError::disk(partial, e));
        }
        (request.progress)(done, total);
    }
    file.sync_all()
        .await
        .map_err(|e| FetchError::disk(partial, e))
}

/// A source that is a folder: copy the file (at most `size` bytes); its length. Blocking.
fn copy_local(from: &Path, partial: &Path, size: Option<u64>) -> Result<u64, FetchError> {
    let total = std::fs::metadata(from)
        .map_err(|e| FetchError::unreachable(format!("{}: {e}", from.display()), e))?
        .len();
    if let Some(size) = size.filter(|size| total > *size) {
        return Err(FetchError::Mismatch(format!(
            "{} is {total} bytes, more than its {size}; it was not copied",
            from.display()
        )));
    }
    #[allow(clippy::disallowed_methods)] // on a blocking thread
    std::fs::copy(from, partial).map_err(|e| {
        let _ = std::fs::remove_file(partial);
        FetchError::disk(from, e)
    })?;
    Ok(total)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
