//! Uploads and sockets nobody can abuse, tried as a careless client and a hostile local
//! process would, against murmurd under the limits such a process meets (`prlimit`: 4 GiB of
//! address space, 256 file descriptors), with an external stand-in transcription server that
//! records every piece of audio it is sent.
//!
//! - 4 KB WAVs whose headers claim a prime rate (once 1.6 GB and an abort), 10 MHz, 0 Hz (once
//!   a panic's words in a 502) or 1,000 channels: each a 400 naming the problem, murmurd alive.
//! - A 130 KB FLAC of three hours of silence: transcribed, sent to the engine in pieces of at
//!   most ten minutes, the segments stitched in order across them.
//! - Wyoming: 400 connections under 256 descriptors leave HTTP answering and the CPU and the
//!   log quiet; a client trickling an event is cut off; a format claiming 132 GB of audio is
//!   cut off at the byte cap; a language that is no language code is refused.

use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use murmur_tests::fake_upstream::FakeUpstream;
use murmur_tests::listening::{transcribe, transcription_stream};
use murmur_tests::measure::{cpu_secs, peak_rss_mb, rss_mb};
use murmur_tests::murmurd::{Launch, external_config};
use murmur_tests::{Murmurd, flac, free_port};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// Speech and transcription both forwarded to `fake`, plus `extra` TOML.
fn config(fake: &FakeUpstream, extra: &str) -> String {
    external_config(
        &fake.url(),
        &format!(
            "[transcription]\nengine = \"external\"\nurl = \"{}\"\nprobe_path = \"/probe\"\n{extra}",
            fake.url()
        ),
    )
}

const LIMITS: [&str; 2] = ["--as=4294967296", "--nofile=256"];

fn limited(config: &str) -> Murmurd {
    Murmurd::launch_limited(Launch::with_config(config), &LIMITS)
        .unwrap_or_else(|(status, stderr)| panic!("murmurd exited with {status}:\n{stderr}"))
}

/// A 4 KB mono WAV whose header claims `rate` and `channels`.
fn lying_wav(rate: u32, channels: u16) -> Vec<u8> {
    let samples = vec![0u8; 4000];
    let mut wav = murmur_tests::wav::write(16_000, &vec![0i16; samples.len() / 2]);
    wav[22..24].copy_from_slice(&channels.to_le_bytes());
    wav[24..28].copy_from_slice(&rate.to_le_bytes());
    wav
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lying_headers_are_a_4xx_and_hours_of_audio_go_to_the_engine_in_pieces() {
    let fake = FakeUpstream::start().await;
    let murmurd = limited(&config(&fake, ""));
    let pid = murmurd.child.id();

    for (rate, channels, what) in [
        (100_000_007, 1, "100,000,007 Hz"),
        (10_000_019, 1, "10,000,019 Hz"),
        (0, 1, "0 Hz"),
        (16_000, 1000, "1000 channels"),
    ] {
        let reply = transcribe(
            &murmurd,
            "/v1/audio/transcriptions",
            &[("model", "whisper-1")],
            "bomb.wav",
            &lying_wav(rate, channels),
        )
        .await;
        let body = String::from_utf8_lossy(&reply.body).into_owned();
        assert_eq!(reply.status, 400, "{what}: {body}");
        assert_eq!(reply.error_code(), "unsupported_audio", "{what}: {body}");
        assert!(!body.contains("panicked"), "{what}: {body}");
        assert!(murmur_tests::murmurd::alive(pid), "{what}: murmurd died");
    }
    assert!(
        fake.stats.transcribed.lock().expect("stats").is_empty(),
        "nothing reached the engine"
    );

    // Three hours of silence in 130 KB.
    let bomb = flac::silence(16_000, 3 * 3600, 16_384);
    assert!(bomb.len() < 200_000, "{} bytes", bomb.len());
    let before = peak_rss_mb(pid);
    let reply = transcribe(
        &murmurd,
        "/v1/audio/transcriptions",
        &[("response_format", "verbose_json")],
        "three-hours.flac",
        &bomb,
    )
    .await;
    let after = peak_rss_mb(pid);
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    // The decoded audio exists once, as 16 kHz 16-bit (346 MB for three hours), plus one
    // piece on its way to the engine: the old decoder peaked near 1 GB.
    eprintln!("murmurd peak RSS {before:.0} → {after:.0} MB for a 3-hour upload");
    assert!(
        after - before < 450.0,
        "peak RSS {before:.0} → {after:.0} MB"
    );
    let pieces = fake.stats.transcribed.lock().expect("stats").clone();
    assert!(pieces.len() >= 18, "{pieces:?}");
    assert!(pieces.iter().all(|s| *s <= 600.0 + 1e-6), "{pieces:?}");
    let total: f64 = pieces.iter().sum();
    assert!(
        (total - 10_800.0).abs() < 0.01,
        "every second sent once: {total}"
    );
    // One transcript: a segment per piece, in order, each where its piece lies.
    let verbose = reply.json();
    assert!((verbose["duration"].as_f64().unwrap_or(0.0) - 10_800.0).abs() < 0.01);
    let segments = verbose["segments"].as_array().expect("segments");
    assert_eq!(segments.len(), pieces.len(), "{verbose:#}");
    let mut piece_start = 0.0;
    for (i, (segment, seconds)) in segments.iter().zip(&pieces).enumerate() {
        assert_eq!(segment["id"], i, "{segment}");
        assert_eq!(
            segment["text"].as_str().map(str::trim),
            Some(format!("piece {}", i + 1).as_str())
        );
        let start = segment["start"].as_f64().expect("start");
        assert!(
            (start - (piece_start + 0.5)).abs() < 0.01,
            "{i}: {start} in a piece from {piece_start}"
        );
        piece_start += seconds;
    }

    // Streamed: each piece's segments as events while the next piece is transcribed, then
    // one `done` with the whole text.
    let sent_before = fake.stats.transcribed.lock().expect("stats").len();
    let half_hour = flac::silence(16_000, 25 * 60, 16_384);
    let response = transcription_stream(&murmurd, "half-hour.flac", &half_hour).await;
    let body = response
        .into_body()
        .collect()
        .await
        .expect("events")
        .to_bytes();
    let events: Vec<Value> = String::from_utf8_lossy(&body)
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|l| serde_json::from_str(l).expect("an event"))
        .collect();
    let pieces = fake.stats.transcribed.lock().expect("stats").len() - sent_before;
    assert_eq!(pieces, 3, "25 minutes in three pieces");
    let deltas: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "transcript.text.delta")
        .filter_map(|e| e["delta"].as_str())
        .collect();
    assert_eq!(deltas.len(), 3, "{events:?}");
    let done = events.last().expect("events");
    assert_eq!(done["type"], "transcript.text.done", "{events:?}");
    assert_eq!(
        done["text"].as_str(),
        Some(deltas.concat().as_str()),
        "{events:?}"
    );
    assert!(murmur_tests::murmurd::alive(pid));
}

/// One Wyoming event as a client writes it.
fn event(kind: &str, data: Value, payload: &[u8]) -> Vec<u8> {
    let data = data.to_string();
    let mut out = serde_json::json!({
        "type": kind, "data_length": data.len(), "payload_length": payload.len(),
    })
    .to_string()
    .into_bytes();
    out.push(b'\n');
    out.extend_from_slice(data.as_bytes());
    out.extend_from_slice(payload);
    out
}

/// A connection to Murmur's Wyoming port that has sent `first`.
async fn wyoming(port: u16, first: &[u8]) -> BufReader<tokio::net::TcpStream> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let mut reader = BufReader::new(stream);
    reader.get_mut().write_all(first).await.expect("write");
    reader
}

/// The next event's header line and data (payload skipped).
async fn next_event(reader: &mut BufReader<tokio::net::TcpStream>) -> Value {
    let mut line = String::new();
    reader.read_line(&mut line).await.expect("a line");
    let header: Value = serde_json::from_str(&line).expect("json");
    let mut data = vec![0u8; header["data_length"].as_u64().unwrap_or(0) as usize];
    reader.read_exact(&mut data).await.expect("data");
    let mut payload = vec![0u8; header["payload_length"].as_u64().unwrap_or(0) as usize];
    reader.read_exact(&mut payload).await.expect("payload");
    let mut event = header;
    if !data.is_empty() {
        event["data"] = serde_json::from_slice(&data).expect("data json");
    }
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wyoming_cannot_be_exhausted_trickled_or_flooded() {
    let fake = FakeUpstream::start().await;
    let port = free_port();
    let murmurd = limited(&config(
        &fake,
        &format!("\n[wyoming]\nenabled = true\nport = {port}\n"),
    ));
    let pid = murmurd.child.id();
    let client = murmur_tests::Client::new();
    assert_eq!(
        client.get(&murmurd.url("/murmur/healthz")).await.status,
        200
    );

    // 400 connections, more than murmurd has descriptors for, held open. Past murmurd's
    // slots and the kernel's accept queue a connect waits for its SYN to be answered: those
    // are given up after a moment (they cost murmurd nothing).
    let mut held = Vec::new();
    for _ in 0..400 {
        let connect = tokio::net::TcpStream::connect(("127.0.0.1", port));
        if let Ok(Ok(stream)) = tokio::time::timeout(Duration::from_millis(20), connect).await {
            held.push(stream);
        }
    }
    assert!(held.len() >= 100, "only {} connections", held.len());
    // Everything murmurd writes: its log files and its stderr.
    let log = || {
        let logs = std::fs::read_dir(murmurd.data_dir().join("logs")).map_or(0, |entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum::<u64>()
        });
        logs + std::fs::metadata(murmurd.data_dir().join("murmurd.stderr")).map_or(0, |m| m.len())
    };
    let (cpu_before, log_before) = (cpu_secs(pid), log());
    let window = Instant::now();
    let mut slowest = Duration::ZERO;
    while window.elapsed() < Duration::from_secs(5) {
        let asked = Instant::now();
        let health = tokio::time::timeout(
            Duration::from_secs(5),
            client.get(&murmurd.url("/murmur/healthz")),
        )
        .await;
        assert!(
            matches!(&health, Ok(reply) if reply.status == 200),
            "HTTP stops answering with Wyoming flooded"
        );
        slowest = slowest.max(asked.elapsed());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (cpu, logged) = (cpu_secs(pid) - cpu_before, log() - log_before);
    eprintln!(
        "{} Wyoming connections held: {cpu:.2} CPU-s in 5 s, {logged} bytes logged, slowest healthz {slowest:?}",
        held.len()
    );
    assert!(cpu < 2.5, "the accept loop spins: {cpu:.2} CPU-s in 5 s");
    assert!(logged < 100_000, "{logged} bytes of log in 5 s");
    drop(held);

    // A language that is no language code.
    let mut reader = wyoming(
        port,
        &event(
            "transcribe",
            serde_json::json!({"language": "English!"}),
            &[],
        ),
    )
    .await;
    let refused = next_event(&mut reader).await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["data"]["code"], "invalid_language", "{refused}");

    // A format claiming 384 kHz × 4 bytes × 8 channels: cut off at the byte cap (25 MB),
    // not at the 132 GB the format would allow.
    let format = serde_json::json!({"rate": 384_000, "width": 4, "channels": 8});
    let mut reader = wyoming(port, &event("audio-start", format.clone(), &[])).await;
    let chunk = event("audio-chunk", format, &vec![0u8; 1024 * 1024]);
    let mut sent = 0;
    let cut = loop {
        reader.get_mut().write_all(&chunk).await.expect("write");
        sent += 1;
        let pending = tokio::time::timeout(Duration::from_millis(20), reader.fill_buf()).await;
        if matches!(pending, Ok(Ok(buffer)) if !buffer.is_empty()) {
            break next_event(&mut reader).await;
        }
        assert!(sent <= 40, "no refusal after {sent} MB");
    };
    assert_eq!(cut["data"]["code"], "audio_too_long", "{cut}");
    // Refused once 25 MB were in; what the socket buffers held by then was written too.
    assert!((25..=40).contains(&sent), "cut off after {sent} MB");
    let rss = rss_mb(pid);
    eprintln!("murmurd RSS after the flood: {rss:.0} MB");

    // A client that starts an event and trickles: cut off within the read deadline.
    let mut trickler = wyoming(port, b"{\"type\": ").await.into_inner();
    let started = Instant::now();
    let mut sink = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if trickler.write_all(b" ").await.is_err() {
                return;
            }
            if let Ok(Ok(0)) =
                tokio::time::timeout(Duration::from_millis(10), trickler.read_to_end(&mut sink))
                    .await
            {
                return;
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "a trickling client keeps its slot");
    assert!(
        started.elapsed() >= Duration::from_secs(9),
        "{:?}",
        started.elapsed()
    );
    assert!(murmur_tests::murmurd::alive(pid));
}

/// The head of the answer to `head` sent alone on a new connection (no body follows it).
async fn answer_to_head(base: &str, head: &str) -> String {
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(3), async {
        let mut buffer = [0u8; 4096];
        while let Ok(n) = stream.read(&mut buffer).await {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buffer[..n]);
            if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "no answer within 3 s: {}",
        String::from_utf8_lossy(&answer)
    );
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_client_waiting_for_100_continue_is_refused_before_it_sends_its_body() {
    let fake = FakeUpstream::start().await;
    let murmurd = Murmurd::start(&config(&fake, "[proxy]\napi_key = \"sk-right\"\n"));
    let head = |key: &str| {
        format!(
            "POST /v1/audio/transcriptions HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {key}\r\n\
             Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 50000000\r\n\
             Expect: 100-continue\r\n\r\n",
            murmurd.base.trim_start_matches("http://")
        )
    };
    // A wrong key, and a body over the limit: each answered at once, not after 50 MB.
    let wrong_key = answer_to_head(&murmurd.base, &head("sk-wrong")).await;
    assert!(wrong_key.starts_with("HTTP/1.1 401"), "{wrong_key}");
    let too_large = answer_to_head(&murmurd.base, &head("sk-right")).await;
    assert!(too_large.starts_with("HTTP/1.1 413"), "{too_large}");
}
