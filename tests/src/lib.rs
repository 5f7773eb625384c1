//! Support for Murmur's end-to-end tests and benchmarks: run the real `murmurd` binary, a fake
//! OpenAI-compatible upstream on a real loopback port, and a small HTTP client.

pub mod client;
pub mod desk;
pub mod fake_upstream;
pub mod flac;
pub mod hub;
pub mod hyper_alone;
pub mod kokoro;
pub mod listening;
pub mod live;
pub mod measure;
pub mod mlx;
pub mod murmurd;
pub mod nginx;
pub mod piper;
pub mod proxied;
pub mod supervised;
pub mod timed;
pub mod tools;
pub mod wav;

pub use client::{Client, Reply};
pub use fake_upstream::FakeUpstream;
pub use murmurd::Murmurd;

/// A loopback port that was free a moment ago, below the ephemeral range (Linux hands out
/// 32768–60999, macOS 49152–65535): the kernel never gives these to another test's `--port 0`
/// or outgoing connection between this check and the real bind, which it did with ports it
/// had picked itself (a Wyoming port taken by a murmurd started in parallel, in CI).
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static TAKEN: AtomicU32 = AtomicU32::new(0);
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_000;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
        ^ std::process::id().wrapping_mul(2_654_435_761);
    for attempt in 0..SPAN {
        let step = TAKEN.fetch_add(7919, Ordering::Relaxed);
        let port = LOW + (seed.wrapping_add(step).wrapping_add(attempt) % SPAN);
        let port = u16::try_from(port).expect("below 32000");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port between {LOW} and {}", LOW + SPAN)
}
