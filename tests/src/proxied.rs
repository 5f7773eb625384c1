//! A `murmurd` in front of an in-process fake upstream, and what the proxy's tests do with it.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

use crate::murmurd::external_config;
use crate::{Client, FakeUpstream, Murmurd};

/// A speech request written by hand on a raw connection, so the test can walk away from it.
pub async fn raw_speech(murmurd: &Murmurd, body: &str) -> tokio::net::TcpStream {
    let mut stream = tokio::net::TcpStream::connect(murmurd.base.trim_start_matches("http://"))
        .await
        .expect("connect");
    let head = format!(
        "POST /v1/audio/speech HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    stream
}

/// Poll `done` every 10 ms until it holds or `limit` passes.
pub async fn wait_until(limit: Duration, done: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A fake upstream, a `murmurd` forwarding to it as an external engine (with `extra` TOML),
/// and a client.
pub async fn setup(extra: &str) -> (FakeUpstream, Murmurd, Client) {
    let fake = FakeUpstream::start().await;
    let murmurd = Murmurd::start(&external_config(&fake.url(), extra));
    (fake, murmurd, Client::new())
}
