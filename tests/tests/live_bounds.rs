//! Live sessions' bounds: a client that stops reading cannot grow Murmur's memory (its
//! session blocks on its sends, is closed after 10 s of that, and its slot comes back), a
//! session ends at its longest, and at shutdown a turn being spoken is finished before the
//! session closes.

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

/// Murmur stopping (SIGTERM) with a turn still being spoken: the turn is committed and
/// transcribed before the session closes, saying why (an `error` event, then close code 1001),
/// and murmurd waits for that, then exits 0.
#[tokio::test]
async fn at_shutdown_a_live_turn_is_finished_before_the_session_closes() {
    use murmur_tests::listening::{Stage, speak, wer};
    use murmur_tests::live::{append, next, send, warm_murmurd};

    let said = "The train to the coast leaves from the northern platform this evening.";
    let stage = Stage::new().await;
    let mut murmurd = warm_murmurd(&stage, "").await;
    let pcm = speak(&murmurd, said, "pcm").await;
    let url = murmurd
        .url("/v1/realtime?intent=transcription")
        .replacen("http://", "ws://", 1);
    let mut socket = connect(&url, &[]).await.expect("connected");
    assert_eq!(next(&mut socket).await["type"], "session.created");
    // Silence, then the speech with nothing after it: the VAD hears a turn that has not ended.
    for chunk in [0u8; 48_000].chunks(4_800).chain(pcm.chunks(4_800)) {
        send(&mut socket, append(chunk)).await;
    }
    // Events are handled in order: once an update is answered, all the audio has been heard.
    send(
        &mut socket,
        serde_json::json!({"type": "session.update", "session": {"type": "transcription"}}),
    )
    .await;
    let mut started = false;
    loop {
        let event = next(&mut socket).await;
        assert_ne!(event["type"], "error", "{event}");
        started |= event["type"] == "input_audio_buffer.speech_started";
        if event["type"] == "session.updated" {
            break;
        }
    }
    assert!(started, "the turn began");
    let stopped_at = Instant::now();
    murmurd.signal(libc::SIGTERM);

    let mut kinds = Vec::new();
    let mut transcript = None;
    let ended = loop {
        let event = next(&mut socket).await;
        let kind = event["type"].as_str().unwrap_or_default().to_string();
        if kind == "conversation.item.input_audio_transcription.completed" {
            transcript = event["transcript"].as_str().map(String::from);
        }
        if kind == "error" {
            break event;
        }
        kinds.push(kind);
    };
    assert!(
        kinds.contains(&"input_audio_buffer.speech_stopped".to_string())
            && kinds.contains(&"input_audio_buffer.committed".to_string()),
        "{kinds:?}"
    );
    let transcript =
        transcript.unwrap_or_else(|| panic!("no transcript before the end: {kinds:?}"));
    assert!(wer(said, &transcript) <= 0.15, "{transcript}");
    assert_eq!(ended["error"]["code"], "session_ended", "{ended}");
    assert!(
        ended["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("shutting down")),
        "{ended}"
    );
    let close = tokio::time::timeout(Duration::from_secs(10), socket.next())
        .await
        .expect("closed within 10 s");
    match close {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 1001),
        other => panic!("a close frame, not {other:?}"),
    }
    let status = murmurd
        .wait_exit(Duration::from_secs(30))
        .expect("murmurd exits after the session");
    assert!(status.success(), "{status:?}\n{}", murmurd.stderr());
    eprintln!(
        "transcript {:.2} s after SIGTERM: {transcript}",
        stopped_at.elapsed().as_secs_f64()
    );
}
