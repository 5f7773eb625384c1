//! Hostile input and hostile neighbours: what a buggy client, a slow one or a settings value
//! sends must never wedge, crash or fool Murmur.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use murmur_core::status::State;
use murmur_tests::murmurd::fake_engine_config;
use murmur_tests::supervised::QUICK;
use murmur_tests::{Client, Murmurd, timed};
use serde_json::json;

fn tone_engine(extra: &str) -> Murmurd {
    Murmurd::start(&fake_engine_config(
        &["--tone", "pcm", "--rate", "24000"],
        &format!("audio = \"pcm\"\n\n{QUICK}\n{extra}"),
    ))
}

/// A raw connection to `murmurd`.
fn connect(murmurd: &Murmurd) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", murmurd.port())).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    stream
}

/// Read until the server closes; returns what came and how long it took.
fn read_to_close(stream: &mut TcpStream) -> (String, Duration) {
    let started = Instant::now();
    let mut text = Vec::new();
    let _ = stream.read_to_end(&mut text);
    (
        String::from_utf8_lossy(&text).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test]
async fn a_stalled_body_does_not_delay_another_clients_speech() {
    let murmurd = tone_engine("[proxy]\nbody_timeout_secs = 3\n");
    let url = murmurd.url("/v1/audio/speech");
    assert_eq!(
        timed::post(&url, r#"{"input":"warm up"}"#, &[])
            .await
            .status,
        200
    );
    // A pass-through upload that declares 1000 bytes and sends one, and a speech request
    // that declares more than it sends: neither holds the engine's only slot.
    let mut stalled = Vec::new();
    for request in [
        "POST /v1/audio/transcriptions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\nx",
        "POST /v1/audio/speech HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"in",
    ] {
        let mut stream = connect(&murmurd);
        stream.write_all(request.as_bytes()).expect("send");
        stalled.push(stream);
    }
    // Both have arrived (and are being read) before the speech request is sent.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while murmurd.in_progress().await < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the stalled requests never arrived"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let reply = timed::post(&url, r#"{"input":"Another client speaks."}"#, &[]).await;
    assert_eq!(reply.status, 200);
    assert!(
        reply.total < Duration::from_secs(2),
        "speech waited {:?} behind stalled bodies",
        reply.total
    );
    // The stalled ones are answered 408 once the body timeout passes, and closed.
    for mut stream in stalled {
        let (answer, after) = tokio::task::spawn_blocking(move || read_to_close(&mut stream))
            .await
            .expect("join");
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("body_timeout"), "{answer}");
        assert!(after < Duration::from_secs(5), "{after:?}");
    }
}

#[tokio::test]
async fn slowloris_connections_are_closed_within_the_header_timeout() {
    let murmurd = tone_engine("[proxy]\nheader_timeout_secs = 2\n");
    let mut idle = connect(&murmurd);
    let mut partial = connect(&murmurd);
    partial
        .write_all(b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .expect("send");
    for stream in [&mut idle, &mut partial] {
        let (_, after) = read_to_close(stream);
        assert!(
            after < Duration::from_secs(4),
            "closed after {after:?} (header timeout 2 s)"
        );
    }
    // And a kept-alive connection that goes quiet is closed too, after answering.
    let mut keep = connect(&murmurd);
    keep.write_all(b"GET /murmur/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .expect("send");
    let (answer, after) = read_to_close(&mut keep);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(after < Duration::from_secs(4), "{after:?}");
}

#[tokio::test]
async fn an_oversized_body_is_refused_at_once_without_waiting_for_it() {
    let murmurd = tone_engine("");
    let mut stream = connect(&murmurd);
    stream
        .write_all(
            b"POST /v1/audio/speech HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2097152\r\n\r\n0123456789",
        )
        .expect("send");
    let (answer, after) = read_to_close(&mut stream);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("request_too_large"), "{answer}");
    assert!(after < Duration::from_secs(2), "{after:?}");
}

#[tokio::test]
async fn out_of_range_settings_are_refused_by_name_and_change_nothing() {
    let murmurd = tone_engine("");
    let file = murmurd.data_dir().join("config.toml");
    let before = std::fs::read_to_string(&file).expect("config");
    let huge = json!(18446744073709551615u64);
    for key in [
        "supervisor.stop_grace_secs",
        "supervisor.startup_timeout_secs",
        "supervisor.health_interval_secs",
        "supervisor.idle_unload_secs",
        "supervisor.restart_delay_ms",
        "supervisor.healthy_reset_secs",
        "proxy.upstream_timeout_secs",
        "proxy.max_request_bytes",
        "proxy.body_timeout_secs",
    ] {
        let (table, field) = key.split_once('.').expect("dotted");
        let reply = murmurd
            .change_settings(|s| s[table][field] = huge.clone())
            .await;
        assert_eq!(reply.status, 422, "{key}: {:?}", reply.json());
        assert_eq!(reply.json()["error"]["fields"][0]["key"], key);
    }
    let long = murmurd
        .change_settings(|s| s["engine"]["lang_code"] = "z".repeat(2_000_000).into())
        .await;
    assert_eq!(long.status, 413, "a 2 MB settings body");
    assert_eq!(long.json()["error"]["code"], "request_too_large");
    let also_long = murmurd
        .change_settings(|s| s["engine"]["lang_code"] = "z".repeat(5_000).into())
        .await;
    assert_eq!(also_long.status, 422);
    assert_eq!(
        also_long.json()["error"]["fields"][0]["key"],
        "engine.lang_code"
    );
    let array = murmurd.change_settings(|s| *s = json!([])).await;
    assert_eq!(array.status, 422, "[] is not a settings object");
    assert_eq!(std::fs::read_to_string(&file).expect("config"), before);
    // Still serving, and the engine still supervised.
    let reply = timed::post(
        &murmurd.url("/v1/audio/speech"),
        r#"{"input":"still here"}"#,
        &[],
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(murmurd.engine().await.state, State::Ready);
}

#[tokio::test]
async fn bad_speech_input_gets_a_4xx_in_openai_shape_and_the_next_request_works() {
    let murmurd = tone_engine("");
    let url = murmurd.url("/v1/audio/speech");
    let client = Client::new();
    let megabyte = "word ".repeat(220_000); // over 1 MiB: the body limit
    for (body, status, code) in [
        (
            r#"{"input":"hello\u0000world"}"#.to_string(),
            400,
            "invalid_characters",
        ),
        (
            format!(r#"{{"input":"{}"}}"#, "a".repeat(4097)),
            400,
            "input_too_long",
        ),
        (
            format!(r#"{{"input":"{megabyte}"}}"#),
            413,
            "request_too_large",
        ),
    ] {
        let reply = client.post_json(&url, &body).await;
        assert_eq!(
            reply.status,
            status,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        let error = &reply.json()["error"];
        assert_eq!(error["code"], code);
        assert!(
            error["message"].is_string() && error["type"].is_string(),
            "{error}"
        );
    }
    assert!(
        !murmurd.engine_log().contains("speech"),
        "nothing reached the engine"
    );
    assert_eq!(
        client.post_json(&url, r#"{"input":"fine"}"#).await.status,
        200
    );
}

#[tokio::test]
async fn requests_with_a_confusing_host_or_from_other_sites_are_refused() {
    let murmurd = tone_engine(""); // QUICK: no warm-up at launch
    for request in [
        "GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n",
        "GET http://evil.example/v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    ] {
        let mut stream = connect(&murmurd);
        stream.write_all(request.as_bytes()).expect("send");
        let mut answer = [0u8; 12];
        stream.read_exact(&mut answer).expect("answer");
        assert!(
            answer.starts_with(b"HTTP/1.1 400") || answer.starts_with(b"HTTP/1.1 403"),
            "{request:?}: {:?}",
            String::from_utf8_lossy(&answer)
        );
    }
    // An <img src="http://127.0.0.1:19281/v1/models"> on some site must not start the engine.
    let mut request =
        murmur_tests::client::request(http::Method::GET, &murmurd.url("/v1/models"), "");
    request
        .headers_mut()
        .insert("sec-fetch-site", "cross-site".parse().expect("header"));
    request
        .headers_mut()
        .insert("sec-fetch-mode", "no-cors".parse().expect("header"));
    let reply = Client::new().exchange(request).await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.error_code(), "cross_site");
    assert_eq!(
        murmurd.engine().await.state,
        State::Stopped,
        "the engine was not started"
    );
}

#[tokio::test]
async fn open_connections_are_capped() {
    let murmurd = tone_engine("[proxy]\nmax_connections = 8\nheader_timeout_secs = 3\n");
    // Eight idle connections take every slot until the header timeout closes them.
    let idle: Vec<TcpStream> = (0..8).map(|_| connect(&murmurd)).collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let reply = Client::new().get(&murmurd.url("/murmur/healthz")).await;
    assert_eq!(reply.status, 200);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "a ninth connection was served at once ({:?}): no cap",
        started.elapsed()
    );
    drop(idle);
}

/// Read one response with a `Content-Length` from a kept-alive connection.
fn read_response(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).expect("read the head");
        assert_eq!(n, 1, "closed mid-head: {}", String::from_utf8_lossy(&head));
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().expect("length"))
        })
        .expect("a Content-Length");
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).expect("read the body");
    head + &String::from_utf8_lossy(&body)
}

#[tokio::test]
async fn the_header_timeout_spares_a_connection_in_use() {
    let murmurd = tone_engine("[proxy]\nheader_timeout_secs = 1\nbody_timeout_secs = 3\n");
    // Requests one after another on one kept-alive connection, for thrice the timeout.
    let mut stream = connect(&murmurd);
    let started = Instant::now();
    let mut answered = 0;
    while started.elapsed() < Duration::from_secs(3) {
        stream
            .write_all(b"GET /murmur/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .expect("send");
        let answer = read_response(&mut stream);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        answered += 1;
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(answered >= 8, "{answered} answers");
    // A body that trickles in is the body timeout's to judge, not the header timeout's.
    let mut slow = connect(&murmurd);
    slow.write_all(
        b"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\nx",
    )
    .expect("send");
    let (answer, after) = read_to_close(&mut slow);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(after >= Duration::from_secs(2), "cut after {after:?}");
}
