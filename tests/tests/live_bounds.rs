//! A live client that stops reading cannot grow Murmur's memory: its session blocks on its
//! sends, is closed after 10 s of that, and its slot comes back.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use murmur_tests::Murmurd;
use murmur_tests::live::connect;
use murmur_tests::measure::own_rss_mb;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn a_client_that_stops_reading_is_disconnected_and_costs_nothing() {
    let murmurd = Murmurd::start("[supervisor]\nauto_start = false\n");
    let url = murmurd
        .url("/v1/realtime?intent=transcription")
        .replacen("http://", "ws://", 1);
    let socket = connect(&url, &[]).await.expect("connected");
    let (mut sink, mut stream) = socket.split();
    let pid = murmurd.child.id();
    let before = own_rss_mb(pid);

    // Each bad event earns an error event (~300 bytes): 200,000 of them are far more than the
    // sockets' buffers hold, and this client reads none of them.
    let sender = tokio::spawn(async move {
        for _ in 0..200_000 {
            if sink.send(Message::text("{not json")).await.is_err() {
                return;
            }
        }
    });
    let started = Instant::now();
    let mut peak = before;
    while started.elapsed() < Duration::from_secs(60)
        && murmurd.metrics().await["live_sessions"] == 1
    {
        peak = peak.max(own_rss_mb(pid));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let closed_after = started.elapsed().as_secs_f64();
    eprintln!(
        "closed after {closed_after:.1} s; murmurd's RSS {before:.1} MB, at most {peak:.1} MB"
    );
    assert_eq!(
        murmurd.metrics().await["live_sessions"],
        0,
        "the session was closed"
    );
    assert!(closed_after < 50.0, "{closed_after} s");
    assert!(peak - before < 30.0, "{before:.1} → {peak:.1} MB");
    sender.abort();
    // The connection ends (what the client had not read may be cut short by the reset a close
    // with unread bytes makes).
    let drained = tokio::time::timeout(Duration::from_secs(20), async {
        let mut n = 0;
        while let Some(Ok(_)) = stream.next().await {
            n += 1;
        }
        n
    })
    .await
    .expect("the connection ends");
    eprintln!("{drained} events were read after the close");
}
