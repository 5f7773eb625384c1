//! Figures the benchmarks share: medians, and the memory of a process tree.

/// The middle value (the upper one of an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// CPU time `pid` and its descendants have used, in seconds: the scheduler's nanoseconds on
/// a CPU (`/proc/<pid>/task/<tid>/schedstat`), summed over every thread.
pub fn cpu_secs(pid: u32) -> f64 {
    tree(pid).into_iter().map(own_cpu_secs).sum()
}

/// CPU time one process (not its children) has used, in seconds, summed over its threads.
pub fn own_cpu_secs(pid: u32) -> f64 {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|task| on_cpu(&task.path().join("schedstat")))
        .sum()
}

/// CPU time the calling thread has used, in seconds.
pub fn thread_cpu_secs() -> f64 {
    on_cpu(std::path::Path::new("/proc/thread-self/schedstat"))
}

/// The first field of a `schedstat`: nanoseconds spent on a CPU.
fn on_cpu(schedstat: &std::path::Path) -> f64 {
    std::fs::read_to_string(schedstat)
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1e9
}

/// Resident memory of `pid` and its descendants, in MB (Linux's /proc).
pub fn rss_mb(pid: u32) -> f64 {
    tree(pid).into_iter().map(|p| status_mb(p, "VmRSS:")).sum()
}

/// One process's own resident memory (not its children's), in MB.
pub fn own_rss_mb(pid: u32) -> f64 {
    status_mb(pid, "VmRSS:")
}

/// The most `pid` alone has had resident since it started (`VmHWM`), in MB.
pub fn peak_rss_mb(pid: u32) -> f64 {
    status_mb(pid, "VmHWM:")
}

/// A `kB` field of `/proc/<pid>/status`, in MB.
fn status_mb(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

/// `pid` and every process below it.
fn tree(pid: u32) -> Vec<u32> {
    let parent_of = |p: u32| -> Option<u32> {
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
        stat.rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    let mut tree = vec![pid];
    let all: Vec<u32> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    let mut grew = true;
    while grew {
        grew = false;
        for &p in &all {
            if !tree.contains(&p) && parent_of(p).is_some_and(|parent| tree.contains(&parent)) {
                tree.push(p);
                grew = true;
            }
        }
    }
    tree
}
