//! Memory figures for the status: what the system has available, and what the engine's whole
//! process tree uses.

use sysinfo::{MemoryRefreshKind, Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// Kept free beyond an engine's estimate.
pub const MEMORY_HEADROOM_MB: u64 = 300;

/// Reads memory figures. Cheap to clone (clones share one `System`); a reading of the engine's
/// process tree scans every process, so the actor takes it off the async workers
/// ([`Sampler::measure`]).
#[derive(Clone)]
pub struct Sampler {
    sys: std::sync::Arc<std::sync::Mutex<System>>,
}

/// One reading, in MB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reading {
    pub available_mb: Option<u64>,
    pub engine_rss_mb: Option<u64>,
}

impl Default for Sampler {
    fn default() -> Self {
        Self {
            sys: std::sync::Arc::new(std::sync::Mutex::new(System::new())),
        }
    }
}

impl Sampler {
    /// Available memory, and with `engine` its process tree's: blocking (a scan of every
    /// process when `engine` is given, which runs on a blocking thread; reading the available
    /// memory alone is one small file, which the actor reads at a start).
    #[allow(clippy::disallowed_methods)]
    pub fn sample(&self, engine: Option<u32>) -> Reading {
        let mut sys = self
            .sys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        sys.refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
        let available = sys.available_memory();
        let engine_rss_mb = engine.map(|root| {
            sys.refresh_processes_specifics(
                ProcessesToUpdate::All,
                true,
                ProcessRefreshKind::nothing().with_memory(),
            );
            let root = Pid::from_u32(root);
            let bytes: u64 = sys
                .processes()
                .iter()
                // On Linux every thread is listed as a task of its own, with the whole
                // process's memory: count processes only.
                .filter(|(_, p)| p.thread_kind().is_none())
                .filter(|(pid, _)| descends_from(&sys, **pid, root))
                .map(|(_, p)| p.memory())
                .sum();
            bytes / (1024 * 1024)
        });
        Reading {
            available_mb: (available > 0).then_some(available / (1024 * 1024)),
            engine_rss_mb,
        }
    }

    /// [`Sampler::sample`] of `engine` on a blocking thread.
    pub async fn measure(&self, engine: u32) -> Reading {
        let sampler = self.clone();
        tokio::task::spawn_blocking(move || sampler.sample(Some(engine)))
            .await
            .unwrap_or_default()
    }
}

fn descends_from(sys: &System, mut pid: Pid, root: Pid) -> bool {
    for _ in 0..64 {
        if pid == root {
            return true;
        }
        match sys.process(pid).and_then(|p| p.parent()) {
            Some(parent) => pid = parent,
            None => return false,
        }
    }
    false
}

/// The warning to show when `available_mb` is short of what the engine needs.
pub fn warning(available_mb: Option<u64>, estimate_mb: Option<u64>) -> Option<String> {
    let (available, estimate) = (available_mb?, estimate_mb?);
    let needed = estimate + MEMORY_HEADROOM_MB;
    (available < needed).then(|| {
        format!(
            "only {available} MB of memory is available and this engine needs about {needed} MB; \
             it may be slow or be killed by the system — close other programs or pick a smaller model"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_only_when_short() {
        assert_eq!(warning(Some(10_000), Some(400)), None);
        assert!(warning(Some(500), Some(400)).is_some_and(|w| w.contains("700 MB")));
        assert_eq!(warning(Some(10), None), None);
    }

    #[test]
    fn measures_this_process_tree_once_however_many_threads() {
        // A process with many threads, each touching no memory of its own.
        let _ballast = vec![1u8; 64 * 1024 * 1024];
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        std::thread::sleep(std::time::Duration::from_millis(5));
                    }
                })
            })
            .collect();
        let sampler = Sampler::default();
        let reading = sampler.sample(Some(std::process::id()));
        let own_mb = std::fs::read_to_string("/proc/self/statm")
            .ok()
            .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
            .map(|pages| pages * 4096 / (1024 * 1024));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in threads {
            let _ = t.join();
        }
        assert!(reading.available_mb.is_some_and(|mb| mb > 0));
        let rss = reading.engine_rss_mb.expect("rss");
        if let Some(own) = own_mb {
            // Counted once, not once per thread (17 × would be over 1 GB).
            assert!(rss <= own * 2 + 16, "rss {rss} MB for a {own} MB process");
        }
        assert!(rss >= 64, "{rss}");
    }
}
