//! Home Assistant's protocol: the real `wyoming` client library (1.10.2, as Home Assistant
//! uses it) against murmurd's Wyoming server, on the real engines (Piper speaks, Whisper's
//! `tiny.en` listens): describe, synthesize, streaming synthesis, transcription at 16 and
//! 22.05 kHz, a voice nothing serves, garbage and a lying payload length, an address outside
//! the allowed networks, and the engines shared with HTTP.

use std::time::Duration;

use murmur_core::status::State;
use murmur_tests::listening::{PARAGRAPH, Stage, speak, wer};
use murmur_tests::murmurd::fake_engine_config;
use murmur_tests::supervised::pid;
use murmur_tests::tools::wyoming_client;
use murmur_tests::{Murmurd, free_port};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const THREE: &str = "The kitchen light is on. The front door is locked. It will rain tonight.";

/// Whether the server closes a connection that sent `bytes` (reads to EOF within 10 s).
async fn closes_after(port: u16, bytes: &[u8]) -> bool {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    stream.write_all(bytes).await.expect("write");
    let mut sink = Vec::new();
    matches!(
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut sink)).await,
        Ok(Ok(_))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_assistant_s_client_speaks_and_listens_through_murmur() {
    let stage = Stage::new().await;
    let port = free_port();
    let murmurd = stage
        .murmurd(&format!("\n[wyoming]\nenabled = true\nport = {port}\n"))
        .await;
    let port_text = port.to_string();
    let client = |args: &[&str]| {
        let mut all = vec!["127.0.0.1", port_text.as_str()];
        all.extend_from_slice(args);
        let all: Vec<String> = all.into_iter().map(String::from).collect();
        async move {
            let all: Vec<&str> = all.iter().map(String::as_str).collect();
            wyoming_client(&all).await
        }
    };

    // describe: the installed voices with their languages, the transcription model with its.
    let info = client(&["describe"]).await;
    let voices = info["tts"][0]["voices"].as_array().expect("voices");
    let joe = voices
        .iter()
        .find(|v| v["name"] == "joe")
        .unwrap_or_else(|| panic!("{info:#}"));
    assert!(
        joe["languages"].as_array().is_some_and(|l| l
            .iter()
            .any(|l| l.as_str().is_some_and(|l| l.starts_with("en")))),
        "{joe}"
    );
    assert_eq!(info["tts"][0]["supports_synthesize_streaming"], true);
    let models = &info["asr"][0]["models"];
    assert_eq!(models[0]["name"], "tiny.en", "{info:#}");
    assert_eq!(models[0]["languages"], serde_json::json!(["en"]));

    // synthesize: audio as long as the same text over HTTP, not silence.
    let spoken = client(&["synthesize", THREE]).await;
    assert_eq!(
        spoken["format"],
        serde_json::json!([24000, 2, 1]),
        "{spoken}"
    );
    assert_eq!(
        spoken["events"].as_array().expect("events").last(),
        Some(&Value::from("audio-stop"))
    );
    let http = speak(&murmurd, THREE, "pcm").await;
    let http_secs = http.len() as f64 / 48_000.0;
    let seconds = spoken["seconds"].as_f64().expect("seconds");
    assert!(
        (seconds - http_secs).abs() / http_secs < 0.15,
        "{seconds:.2} s over Wyoming, {http_secs:.2} s over HTTP"
    );
    assert!(spoken["rms"].as_f64().expect("rms") > 300.0, "{spoken}");
    eprintln!(
        "wyoming synthesize: first chunk after {:.2} s",
        spoken["first_chunk_s"].as_f64().unwrap_or_default()
    );

    // Streaming synthesis in three pieces: audio per sentence, then synthesize-stopped.
    let streamed = client(&[
        "stream",
        "The kitchen light is on. The fr",
        "ont door is locked. It will",
        " rain tonight.",
    ])
    .await;
    let events: Vec<&str> = streamed["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(events.last(), Some(&"synthesize-stopped"), "{events:?}");
    assert_eq!(
        events.iter().filter(|e| **e == "audio-start").count(),
        3,
        "{events:?}"
    );
    assert!((streamed["seconds"].as_f64().expect("seconds") - http_secs).abs() / http_secs < 0.25);

    // A voice nothing serves: an error, and the same connection serves the next request.
    let both = client(&["voice-then-default", "nobody", "Still here."]).await;
    assert_eq!(both["first"]["error"]["code"], "unknown_voice", "{both}");
    assert!(
        both["first"]["error"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("joe")),
        "{both}"
    );
    assert!(
        both["second"]["bytes"].as_u64().expect("bytes") > 10_000,
        "{both}"
    );

    // Transcription of Piper's own speech, in 100 ms chunks at 16 and 22.05 kHz.
    let dir = tempfile::tempdir().expect("tmp");
    let wav = dir.path().join("paragraph.wav");
    let audio = speak(&murmurd, PARAGRAPH, "wav").await;
    let parsed = murmur_tests::wav::parse(&audio);
    std::fs::write(&wav, murmur_tests::wav::write(parsed.rate, &parsed.samples)).expect("write");
    for rate in ["16000", "22050"] {
        let heard = client(&["transcribe", &wav.to_string_lossy(), rate]).await;
        let text = heard["text"].as_str().unwrap_or_else(|| panic!("{heard}"));
        let rate_wer = wer(PARAGRAPH, text);
        eprintln!(
            "wyoming transcribe at {rate} Hz: WER {:.1} %, {:.2} s after audio-stop: {text}",
            rate_wer * 100.0,
            heard["after_stop_s"].as_f64().unwrap_or_default()
        );
        assert!(rate_wer <= 0.15, "{rate} Hz: {text}");
        assert_eq!(heard["language"], "en");
    }

    // Garbage and a lying payload length close that connection only.
    assert!(closes_after(port, b"this is not wyoming\n").await);
    assert!(
        closes_after(
            port,
            b"{\"type\":\"audio-chunk\",\"data\":{\"rate\":16000,\"width\":2,\"channels\":1},\"payload_length\":1073741824}\n"
        )
        .await
    );
    let again = client(&["synthesize", "Still answering."]).await;
    assert!(again["bytes"].as_u64().expect("bytes") > 10_000);

    // The engines are shared: a Wyoming synthesis and an HTTP speech request at once.
    let (wyoming, http) = tokio::join!(client(&["synthesize", THREE]), async {
        speak(&murmurd, THREE, "mp3").await
    });
    assert!(wyoming["bytes"].as_u64().expect("bytes") > 10_000);
    assert!(http.len() > 1000);
    let status = murmurd.engine().await;
    assert_eq!(status.restarts.total, 0, "one engine, shared: {status:#?}");

    // Visible: the page's about says where Wyoming is; Activity lists its requests with the
    // client's address.
    let about = murmurd
        .control(http::Method::GET, "/murmur/api/about", None, None)
        .await
        .json();
    assert_eq!(about["wyoming_url"], format!("tcp://127.0.0.1:{port}"));
    let metrics = murmurd
        .control(http::Method::GET, "/murmur/api/metrics", None, None)
        .await
        .json();
    let recent = metrics["recent"].as_array().expect("recent");
    for what in ["wyoming synthesize", "wyoming transcribe"] {
        let seen = recent
            .iter()
            .find(|r| r["path"] == what && r["status"] == 200)
            .unwrap_or_else(|| panic!("no {what} in {recent:#?}"));
        assert!(
            seen["agent"]
                .as_str()
                .is_some_and(|a| a.starts_with("wyoming client 127.0.0.1:")),
            "{seen}"
        );
    }
    assert!(
        recent
            .iter()
            .any(|r| r["path"] == "wyoming synthesize" && r["status"] == 400),
        "the unknown voice is listed too"
    );
}

/// Beyond loopback only the allowed networks connect: with `127.0.0.1/32` allowed, a client
/// from 127.0.0.2 is refused (closed without an answer) and one from 127.0.0.1 served.
#[tokio::test]
async fn an_address_outside_the_allowed_networks_is_refused() {
    let port = free_port();
    let murmurd = Murmurd::start(&fake_engine_config(
        &[],
        &format!(
            "[wyoming]\nenabled = true\nport = {port}\nallowed_networks = [\"127.0.0.1/32\"]\n"
        ),
    ));
    let ask = |from: [u8; 4]| async move {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind((std::net::Ipv4Addr::from(from), 0).into())
            .expect("bind the source address");
        let mut stream = socket
            .connect(([127, 0, 0, 1], port).into())
            .await
            .expect("connect");
        let _ = stream.write_all(b"{\"type\":\"ping\"}\n").await;
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            let mut buffer = [0u8; 256];
            while let Ok(n) = stream.read(&mut buffer).await {
                if n == 0 {
                    break;
                }
                answer.extend_from_slice(&buffer[..n]);
                if answer.contains(&b'\n') {
                    break;
                }
            }
        })
        .await;
        String::from_utf8_lossy(&answer).into_owned()
    };
    assert_eq!(ask([127, 0, 0, 2]).await, "", "refused");
    assert!(ask([127, 0, 0, 1]).await.contains("pong"), "served");
    let log = murmurd.stderr();
    assert!(log.contains("refused a connection"), "{log}");
}

/// Wyoming requests go through the same supervisor as HTTP ones: after the engine is killed
/// it is restarted for the next Wyoming request, and after it unloads when idle the next
/// Wyoming request starts it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wyoming_requests_restart_and_wake_the_engine_as_http_ones_do() {
    let port = free_port();
    let murmurd = Murmurd::start(&fake_engine_config(
        &["--tone", "pcm", "--rate", "24000"],
        &format!(
            "audio = \"pcm\"\n\n[supervisor]\nrestart_delay_ms = 100\nidle_unload_secs = 2\n\n\
             [wyoming]\nenabled = true\nport = {port}\n"
        ),
    ));
    let port_text = port.to_string();
    let say = || {
        let port_text = port_text.clone();
        async move { wyoming_client(&["127.0.0.1", &port_text, "synthesize", "Hello there."]).await }
    };
    assert!(say().await["bytes"].as_u64().expect("bytes") > 1000);
    let first = pid(&murmurd.engine().await);

    murmur_tests::murmurd::kill(first, libc::SIGKILL);
    murmurd
        .wait_for_engine("restarted", Duration::from_secs(30), |s| {
            s.restarts.total >= 1 && s.state == State::Ready
        })
        .await;
    assert!(say().await["bytes"].as_u64().expect("bytes") > 1000);
    let second = pid(&murmurd.engine().await);
    assert_ne!(first, second);

    murmurd
        .wait_for_engine("unloaded when idle", Duration::from_secs(30), |s| {
            s.state == State::Idle
        })
        .await;
    assert!(say().await["bytes"].as_u64().expect("bytes") > 1000);
    let status = murmurd.engine().await;
    assert_eq!(status.state, State::Ready, "woken by Wyoming");
}

/// Announced for Home Assistant's discovery (`_wyoming._tcp`) — here on the loopback interface
/// only (the test's switch), found by an mDNS browser with Murmur's port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_is_announced_for_discovery() {
    let port = free_port();
    let config = fake_engine_config(&[], &format!("[wyoming]\nenabled = true\nport = {port}\n"));
    let mut launch = murmur_tests::murmurd::Launch::with_config(&config);
    launch
        .env
        .push(("MURMUR_ZEROCONF_LOOPBACK_ONLY".into(), "1".into()));
    let _murmurd = Murmurd::launch(launch).expect("starts");
    let browser = mdns_sd::ServiceDaemon::new().expect("an mDNS daemon");
    browser
        .disable_interface(mdns_sd::IfKind::All)
        .expect("interfaces");
    browser
        .enable_interface(vec![mdns_sd::IfKind::LoopbackV4])
        .expect("loopback");
    let events = browser.browse("_wyoming._tcp.local.").expect("browse");
    let found = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            if let Ok(mdns_sd::ServiceEvent::ServiceResolved(info)) = events.recv_timeout(left)
                && info.get_fullname().starts_with("murmur-")
            {
                return Some(info.get_port());
            }
        }
        None
    })
    .await
    .expect("joined");
    let _ = browser.shutdown();
    assert_eq!(
        found,
        Some(port),
        "Murmur's Wyoming server was not discovered"
    );
}

/// A Wyoming client leaving mid-synthesis stops the engine's work on it, as an HTTP client
/// leaving does: the engine sees its client go before it has sent everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_leaving_mid_stream_stops_the_engine_s_work() {
    let port = free_port();
    let murmurd = Murmurd::start(&fake_engine_config(
        &[
            "--tone",
            "pcm",
            "--rate",
            "24000",
            "--chunks",
            "40",
            "--chunk-delay-ms",
            "150",
        ],
        &format!("audio = \"pcm\"\n\n[wyoming]\nenabled = true\nport = {port}\n"),
    ));
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    stream
        .write_all(b"{\"type\":\"synthesize\",\"data\":{\"text\":\"A long answer.\"}}\n")
        .await
        .expect("write");
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("audio-chunk") {
        let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buffer))
            .await
            .expect("audio in time")
            .expect("read");
        assert!(n > 0, "closed before any audio");
        seen.extend_from_slice(&buffer[..n]);
    }
    // Counted in progress as an HTTP request is, while it streams.
    let in_progress = || async {
        murmurd
            .control(http::Method::GET, "/murmur/api/metrics", None, None)
            .await
            .json()["in_progress"]
            .as_u64()
            .expect("in_progress")
    };
    assert_eq!(in_progress().await, 1, "the synthesis is in progress");
    drop(stream);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while in_progress().await != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "still in progress after the client left"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    loop {
        let log = murmurd.engine_log();
        if log.contains("client left after") {
            // Only the readiness check (its first words) was heard to the end.
            assert_eq!(log.matches("sent all 40 chunks").count(), 1, "{log}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the engine went on: {log}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
