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

/// A session that never falls silent still ends at `max_live_session_secs`, saying why.
#[tokio::test]
async fn a_session_ends_at_its_longest_whatever_it_sends() {
    let murmurd = Murmurd::start(
        "[supervisor]\nauto_start = false\n\n[transcription]\nmax_live_session_secs = 2\n",
    );
    let url = murmurd
        .url("/v1/realtime?intent=transcription")
        .replacen("http://", "ws://", 1);
    let mut socket = connect(&url, &[]).await.expect("connected");
    let started = Instant::now();
    let silence = murmur_tests::live::append(&[0u8; 4_800]).to_string();
    let ended = loop {
        assert!(started.elapsed() < Duration::from_secs(15), "still open");
        socket
            .send(Message::text(silence.clone()))
            .await
            .expect("send");
        if let Ok(Some(Ok(Message::Text(text)))) =
            tokio::time::timeout(Duration::from_millis(100), socket.next()).await
        {
            let event: serde_json::Value = serde_json::from_str(&text).expect("JSON");
            if event["type"] == "error" {
                break event;
            }
        }
    };
    let after = started.elapsed().as_secs_f64();
    assert_eq!(ended["error"]["code"], "session_ended", "{ended}");
    assert!(
        ended["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("longest")),
        "{ended}"
    );
    assert!((1.5..6.0).contains(&after), "{after} s");
}
