//! One fetch of a thing at a time, for every kind of download: a Whisper model's folder, a
//! voice, an engine's assets. The page's Install and an engine's warm-up may ask for the same
//! one at once; the second waits for the first, then finds it there (and two writers never
//! share a `.part` file). Keyed by the path the thing ends up at.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use tokio::sync::OwnedMutexGuard;

/// Held while `dest` is being fetched.
pub type Fetching = OwnedMutexGuard<()>;

/// Wait until no other fetch of `dest` runs; it is this one's until the guard drops.
pub async fn lock(dest: &Path) -> Fetching {
    of(dest).lock_owned().await
}

/// `dest`'s lock, if no fetch holds it now.
pub fn try_lock(dest: &Path) -> Option<Fetching> {
    of(dest).try_lock_owned().ok()
}

/// The lock of one destination (kept for the life of the process: one per thing fetched).
fn of(dest: &Path) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: LazyLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> =
        LazyLock::new(Default::default);
    LOCKS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(dest.to_path_buf())
        .or_default()
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_fetch_of_a_destination_at_a_time_and_others_free() {
        let a = Path::new("/tmp/murmur-lock-test/a");
        let held = lock(a).await;
        assert!(try_lock(a).is_none(), "held");
        assert!(try_lock(Path::new("/tmp/murmur-lock-test/b")).is_some());
        let waiter = tokio::spawn(async move { lock(a).await });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(held);
        let _second = waiter.await.expect("joins");
        assert!(try_lock(a).is_none(), "the waiter holds it now");
    }
}
