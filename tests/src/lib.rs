//! Support for Murmur's end-to-end tests and benchmarks: run the real `murmurd` binary, a fake
//! OpenAI-compatible upstream on a real loopback port, and a small HTTP client.

pub mod client;
pub mod desk;
pub mod fake_upstream;
pub mod flac;
pub mod hub;
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

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
