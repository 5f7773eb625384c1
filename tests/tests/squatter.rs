//! A local process that reads the engine's port from its command line and binds it first
//! must never receive a request: not users' text, not their credentials, not even a probe.
//! And a port taken between Murmur choosing it and the engine binding it is swapped for another
//! (three times, then a clear error), without counting as the engine's crash.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use murmur_tests::murmurd::fake_engine_config;
use murmur_tests::supervised::{QUICK, spawns, speak, spoken};
use murmur_tests::{Murmurd, timed};

/// The `--port N` of the first engine started by `parent`, read from `/proc` as any local
/// process could.
fn engine_port(parent: u32) -> Option<u16> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let path = entry.path();
        let Ok(cmdline) = std::fs::read(path.join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if !args.iter().any(|a| a.ends_with("fake_engine.py")) {
            continue;
        }
        let stat = std::fs::read_to_string(path.join("stat")).unwrap_or_default();
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
        if ppid != Some(parent) {
            continue;
        }
        let at = args.iter().position(|a| a == "--port")?;
        return args.get(at + 1)?.parse().ok();
    }
    None
}

#[tokio::test]
async fn a_process_that_takes_the_engines_port_first_never_receives_a_request() {
    let murmurd = Murmurd::start(&fake_engine_config(
        &["--tone", "pcm", "--rate", "24000", "--start-delay", "0.8"],
        "audio = \"pcm\"\n\n[supervisor]\nauto_start = false\nrestart_delay_ms = 100\n",
    ));
    let parent = murmurd.child.id();
    let received = Arc::new(Mutex::new(Vec::<String>::new()));
    let squatted = Arc::new(Mutex::new(None::<u16>));
    let stop = Arc::new(AtomicBool::new(false));
    let squatter = {
        let (received, squatted, stop) = (received.clone(), squatted.clone(), stop.clone());
        std::thread::spawn(move || {
            // Watch for the engine's command line, take its port, answer everything with 200.
            let listener = loop {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                if let Some(port) = engine_port(parent)
                    && let Ok(listener) = TcpListener::bind(("127.0.0.1", port))
                {
                    *squatted.lock().expect("lock") = Some(port);
                    break listener;
                }
                std::thread::sleep(Duration::from_millis(2));
            };
            listener.set_nonblocking(true).expect("nonblocking");
            while !stop.load(Ordering::SeqCst) {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let _ = stream.set_nonblocking(false);
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut head = String::new();
                while reader.read_line(&mut head).is_ok_and(|n| n > 2) {}
                received.lock().expect("lock").push(head);
                let mut stream = stream;
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{\"data\":[]}",
                );
            }
        })
    };

    let url = murmurd.url("/v1/audio/speech");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut spoken = 0;
    while spoken < 5 {
        let reply = timed::post(
            &url,
            r#"{"input":"My private words.","response_format":"mp3"}"#,
            &[("authorization", "Bearer sk-user-secret")],
        )
        .await;
        match reply.status {
            200 => {
                assert_eq!(reply.content_type, "audio/mpeg");
                spoken += 1;
            }
            503 => tokio::time::sleep(Duration::from_millis(200)).await,
            other => panic!("{other}: {}", String::from_utf8_lossy(&reply.body)),
        }
        assert!(
            Instant::now() < deadline,
            "no speech within 60 s\n{}",
            murmurd.engine_log()
        );
    }
    stop.store(true, Ordering::SeqCst);
    let _ = squatter.join();
    let port = squatted
        .lock()
        .expect("lock")
        .expect("the squatter took the engine's port first");
    let received = received.lock().expect("lock");
    assert!(
        received.is_empty(),
        "the squatter on port {port} received: {received:?}"
    );
    assert!(
        murmurd.engine_log().contains("not by the engine"),
        "{}",
        murmurd.engine_log()
    );
}

#[tokio::test]
async fn a_port_taken_before_the_engine_binds_it_is_swapped_for_another_unseen() {
    let starts = tempfile::NamedTempFile::new().expect("temp file");
    let starts = starts.path().to_str().expect("utf-8 path");
    let murmurd = Murmurd::start(&fake_engine_config(
        &["--port-taken", "2", "--starts", starts],
        QUICK,
    ));
    spoken(&murmurd, "hello").await;
    assert_eq!(spawns(&murmurd), 3, "two ports lost, the third won");
    let log = murmurd.engine_log();
    assert_eq!(log.matches("Address already in use").count(), 2, "{log}");
    assert_eq!(
        log.matches("was taken before the engine could bind it")
            .count(),
        2
    );
    let status = murmurd.status().await;
    assert_eq!(
        status["restarts"]["crashes"], 0,
        "not the engine's fault: {status}"
    );
}

#[tokio::test]
async fn a_port_taken_every_time_ends_in_a_clear_error() {
    let starts = tempfile::NamedTempFile::new().expect("temp file");
    let starts = starts.path().to_str().expect("utf-8 path");
    let murmurd = Murmurd::start(&fake_engine_config(
        &["--port-taken", "100", "--starts", starts],
        QUICK,
    ));
    let reply = speak(&murmurd, "hello").await;
    assert_eq!(reply.status, 503);
    let message = reply.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(message.contains("Address already in use"), "{message}");
    assert_eq!(
        spawns(&murmurd),
        4,
        "three more ports tried, then it says so"
    );
}
