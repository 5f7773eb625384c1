//! Live transcription's protocol with a raw WebSocket client, for what no SDK sends on purpose:
//! the beta shape by hand, G.711 audio committed by the client, bad events that leave the
//! session alive, the guards before the upgrade (foreign Origin, the API key as a header or a
//! subprotocol, the session cap, a conversation session, a plain GET), an external engine's
//! turns, and a session's prompt and keywords changing what Whisper writes.

use murmur_tests::listening::{Stage, speak, wer};
use murmur_tests::live::{append, connect, connect_once_free, next, send, send_text, warm_murmurd};
use murmur_tests::{Client, Murmurd};
use serde_json::json;

const SAID: &str = "Please turn off the lights in the kitchen before you go to bed.";

/// G.711 μ-law of one sample (the reference encoder).
fn mulaw(sample: i16) -> u8 {
    let sign = if sample < 0 { 0x80 } else { 0 };
    let magnitude = (i32::from(sample).abs().min(32635) + 0x84) as u32;
    let exponent = (31 - magnitude.leading_zeros()).saturating_sub(7).min(7);
    let mantissa = (magnitude >> (exponent + 3)) & 0x0F;
    !(sign | (exponent << 4) as u8 | mantissa as u8)
}

/// 24 kHz s16le PCM as 8 kHz μ-law (each three samples averaged: a plain low-pass).
fn to_mulaw(pcm: &[u8]) -> Vec<u8> {
    pcm.chunks_exact(6)
        .map(|three| {
            let sum: i32 = three
                .chunks_exact(2)
                .map(|s| i32::from(i16::from_le_bytes([s[0], s[1]])))
                .sum();
            mulaw((sum / 3) as i16)
        })
        .collect()
}

fn ws(murmurd: &Murmurd, query: &str) -> String {
    murmurd
        .url(&format!("/v1/realtime{query}"))
        .replacen("http://", "ws://", 1)
}

#[tokio::test]
async fn the_beta_shape_with_g711_committed_by_the_client_and_bad_events_survived() {
    let stage = Stage::new().await;
    let murmurd = warm_murmurd(&stage, "").await;
    let pcm = speak(&murmurd, SAID, "pcm").await;
    let url = ws(&murmurd, "?intent=transcription&model=gpt-4o-transcribe");
    let mut socket = connect(&url, &[("openai-beta", "realtime=v1")])
        .await
        .expect("connected");
    let created = next(&mut socket).await;
    assert_eq!(
        created["type"], "transcription_session.created",
        "{created}"
    );
    assert_eq!(created["session"]["input_audio_format"], "pcm16");
    assert_eq!(
        created["session"]["input_audio_transcription"]["model"], "gpt-4o-transcribe",
        "the URL's model is the session's"
    );

    send(
        &mut socket,
        json!({"type": "transcription_session.update", "session": {
            "input_audio_format": "g711_ulaw",
            "input_audio_transcription": {"model": "whisper-1", "language": "en"},
            "turn_detection": null,
        }}),
    )
    .await;
    let updated = next(&mut socket).await;
    assert_eq!(
        updated["type"], "transcription_session.updated",
        "{updated}"
    );
    assert_eq!(updated["session"]["input_audio_format"], "g711_ulaw");
    assert!(updated["session"]["turn_detection"].is_null());

    // Each bad event gets an error in OpenAI's shape, and the session goes on.
    let bad = [
        ("{not json".to_string(), "invalid_json"),
        (json!({"type": "response.create", "event_id": "c1"}).to_string(), "invalid_event"),
        (
            json!({"type": "input_audio_buffer.append", "audio": "!!"}).to_string(),
            "invalid_value",
        ),
        (
            json!({"type": "session.update", "session": {"audio": {"input": {"format": {"type": "audio/pcm", "rate": 44100}}}}})
                .to_string(),
            "invalid_value",
        ),
        (json!({"type": "input_audio_buffer.commit"}).to_string(), "input_audio_buffer_commit_empty"),
    ];
    for (text, code) in bad {
        send_text(&mut socket, &text).await;
        let error = next(&mut socket).await;
        assert_eq!(error["type"], "error", "{text}: {error}");
        assert_eq!(error["error"]["code"], code, "{text}: {error}");
        assert_eq!(error["error"]["type"], "invalid_request_error");
        assert!(
            error["event_id"]
                .as_str()
                .is_some_and(|i| i.starts_with("event_"))
        );
    }

    // μ-law speech, committed by the client: transcribed whole.
    let audio = to_mulaw(&pcm);
    let silence = vec![0xFFu8; 8_000];
    for chunk in silence.chunks(800).chain(audio.chunks(800)) {
        send(&mut socket, append(chunk)).await;
    }
    send(&mut socket, json!({"type": "input_audio_buffer.commit"})).await;
    let committed = next(&mut socket).await;
    assert_eq!(
        committed["type"], "input_audio_buffer.committed",
        "{committed}"
    );
    assert!(committed["previous_item_id"].is_null());
    let item = committed["item_id"].clone();
    let mut deltas = String::new();
    let completed = loop {
        let event = next(&mut socket).await;
        assert_eq!(event["item_id"], item, "{event}");
        match event["type"].as_str() {
            Some("conversation.item.input_audio_transcription.delta") => {
                deltas.push_str(event["delta"].as_str().expect("delta"));
            }
            Some("conversation.item.input_audio_transcription.completed") => break event,
            _ => panic!("unexpected {event}"),
        }
    };
    let transcript = completed["transcript"].as_str().expect("transcript");
    assert_eq!(deltas, transcript);
    assert!(wer(SAID, transcript) <= 0.15, "{transcript}");
    let seconds = completed["usage"]["seconds"].as_f64().expect("usage");
    assert!((3.0..8.0).contains(&seconds), "{seconds}");

    // A second turn names the first as its previous item; clear empties the buffer.
    for chunk in audio.chunks(800).take(20) {
        send(&mut socket, append(chunk)).await;
    }
    send(&mut socket, json!({"type": "input_audio_buffer.clear"})).await;
    assert_eq!(
        next(&mut socket).await["type"],
        "input_audio_buffer.cleared"
    );
    send(&mut socket, json!({"type": "input_audio_buffer.commit"})).await;
    assert_eq!(
        next(&mut socket).await["error"]["code"],
        "input_audio_buffer_commit_empty",
        "cleared means empty"
    );
    for chunk in audio.chunks(800) {
        send(&mut socket, append(chunk)).await;
    }
    send(&mut socket, json!({"type": "input_audio_buffer.commit"})).await;
    let second = next(&mut socket).await;
    assert_eq!(second["previous_item_id"], item, "{second}");
}

#[tokio::test]
async fn guards_before_the_upgrade_and_a_bounded_number_of_sessions() {
    let stage = Stage::new().await;
    let murmurd = Murmurd::start(
        &stage
            .config("max_live_sessions = 1\nlive_idle_secs = 2\n\n[proxy]\napi_key = \"s3cret\"\n"),
    );
    let url = ws(&murmurd, "?intent=transcription");
    let key = ("authorization", "Bearer s3cret");

    // No key, a wrong key: 401 before any upgrade.
    assert_eq!(connect(&url, &[]).await.err().map(|e| e.0), Some(401));
    // A web page from another site: refused before the upgrade, key or not.
    let foreign = connect(&url, &[key, ("origin", "https://evil.example")]).await;
    let (status, body) = foreign.expect_err("refused");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("origin_not_allowed"), "{body}");

    // The key as a browser sends it: a subprotocol. Murmur answers with `realtime`.
    let mut socket = connect(
        &url,
        &[(
            "sec-websocket-protocol",
            "realtime, openai-insecure-api-key.s3cret",
        )],
    )
    .await
    .expect("a key in the subprotocol is a key");
    assert_eq!(next(&mut socket).await["type"], "session.created");
    assert_eq!(murmurd.metrics().await["live_sessions"], 1);
    let status = murmurd.status().await;
    let transcription = status["engines"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["capability"] == "transcription"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(transcription["live_sessions"], 1, "{status}");

    // One session is the cap: the next is refused in OpenAI's shape until the first ends.
    let (status, body) = connect(&url, &[key]).await.expect_err("capped");
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("too_many_sessions"), "{body}");
    // The first says nothing for 2 s: it is closed, saying why.
    let ended = next(&mut socket).await;
    assert_eq!(ended["error"]["code"], "session_ended", "{ended}");
    drop(socket);
    let mut again = connect_once_free(&url, &[key]).await;
    assert_eq!(next(&mut again).await["type"], "session.created");
    drop(again);
    let recent = murmurd.metrics().await["recent"].clone();
    assert!(
        recent.as_array().is_some_and(|r| r
            .iter()
            .any(|r| r["path"] == "/v1/realtime" && r["status"] == 101)),
        "a session is a line of Activity: {recent}"
    );

    // A conversation session (no intent): an error event, then the socket closes. (The
    // session above ends when Murmur has read its close: until then it holds the one slot.)
    let mut conversation = connect_once_free(&ws(&murmurd, "?model=gpt-realtime"), &[key]).await;
    let refused = next(&mut conversation).await;
    assert_eq!(refused["error"]["code"], "unsupported_intent", "{refused}");

    // A plain GET is not a WebSocket.
    let mut request = murmur_tests::client::request(
        http::Method::GET,
        &murmurd.url("/v1/realtime?intent=transcription"),
        "",
    );
    request.headers_mut().insert(
        http::header::AUTHORIZATION,
        "Bearer s3cret".parse().expect("header"),
    );
    let reply = Client::new().exchange(request).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.error_code(), "invalid_request");
}

#[tokio::test]
async fn no_transcription_engine_no_live_sessions() {
    let murmurd = Murmurd::start(&format!(
        "{}\n[transcription]\nengine = \"off\"\n",
        murmur_tests::piper::PIPER
    ));
    let url = ws(&murmurd, "?intent=transcription");
    let (status, body) = connect(&url, &[]).await.expect_err("refused");
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("transcription"), "{body}");
}

/// An engine asked OpenAI's way (here `external`: a second murmurd transcribing with the real
/// `tiny.en`) has no prefix to continue after: a live session still gets Murmur's turns, and
/// one delta and `.completed` per turn.
#[tokio::test]
async fn an_external_engine_gets_a_transcript_per_turn() {
    let stage = Stage::new().await;
    let back = stage.murmurd("").await;
    let pcm = speak(&back, SAID, "pcm").await;
    let front = Murmurd::start(&format!(
        "[supervisor]\nauto_start = false\n\n[transcription]\nengine = \"external\"\nurl = \"{}\"\n",
        back.base
    ));
    let mut socket = connect(&ws(&front, "?intent=transcription"), &[])
        .await
        .expect("connected");
    assert_eq!(next(&mut socket).await["type"], "session.created");
    // Audio time, not wall time, is what the VAD hears: sent as fast as it goes.
    let silence = vec![0u8; 48_000];
    for chunk in silence
        .chunks(4_800)
        .chain(pcm.chunks(4_800))
        .chain(silence.chunks(4_800))
    {
        send(&mut socket, append(chunk)).await;
    }
    let mut kinds = Vec::new();
    let mut deltas = String::new();
    let completed = loop {
        let event = next(&mut socket).await;
        let kind = event["type"].as_str().unwrap_or("").to_string();
        if kind == "conversation.item.input_audio_transcription.delta" {
            deltas.push_str(event["delta"].as_str().unwrap_or(""));
        }
        kinds.push(kind.clone());
        if kind == "conversation.item.input_audio_transcription.completed" {
            break event;
        }
        assert_ne!(kind, "error", "{event}");
    };
    assert_eq!(
        kinds,
        [
            "input_audio_buffer.speech_started",
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
            "conversation.item.input_audio_transcription.delta",
            "conversation.item.input_audio_transcription.completed",
        ]
    );
    let transcript = completed["transcript"].as_str().expect("transcript");
    assert_eq!(deltas, transcript);
    assert!(wer(SAID, transcript) <= 0.15, "{transcript}");
}

/// One turn of `pcm` committed by the client; its transcript.
async fn one_turn(socket: &mut murmur_tests::live::Socket, pcm: &[u8]) -> String {
    for chunk in pcm.chunks(4_800) {
        send(socket, append(chunk)).await;
    }
    send(socket, json!({"type": "input_audio_buffer.commit"})).await;
    loop {
        let event = next(socket).await;
        assert_ne!(event["type"], "error", "{event}");
        if event["type"] == "conversation.item.input_audio_transcription.completed" {
            return event["transcript"]
                .as_str()
                .expect("transcript")
                .to_string();
        }
    }
}

/// A session's `prompt` and `keywords` reach Whisper: a name `tiny.en` spells the usual way
/// unprompted is spelled the rare way the session asks once either names it.
#[tokio::test]
async fn a_session_s_prompt_and_keywords_reach_whisper() {
    let stage = Stage::new().await;
    let murmurd = warm_murmurd(&stage, "").await;
    let (said, name) = (
        "Please ask Kaitlynn to call me back this afternoon.",
        "Kaitlynn",
    );
    let pcm = speak(&murmurd, said, "pcm").await;
    let mut socket = connect(&ws(&murmurd, "?intent=transcription"), &[])
        .await
        .expect("connected");
    assert_eq!(next(&mut socket).await["type"], "session.created");
    let session = |transcription: serde_json::Value| {
        json!({"type": "session.update", "session": {"type": "transcription", "audio": {"input": {
            "transcription": transcription, "turn_detection": null,
        }}}})
    };
    send(
        &mut socket,
        session(json!({"model": "gpt-live-transcribe"})),
    )
    .await;
    assert_eq!(next(&mut socket).await["type"], "session.updated");
    let plain = one_turn(&mut socket, &pcm).await;
    eprintln!("unprompted: {plain}");
    assert!(
        !plain.contains(name),
        "tiny.en spells the name its own way unprompted, or this test shows nothing: {plain}"
    );

    send(
        &mut socket,
        session(json!({"model": "gpt-live-transcribe", "prompt": format!("{name} is in the office today.")})),
    )
    .await;
    assert_eq!(next(&mut socket).await["type"], "session.updated");
    let prompted = one_turn(&mut socket, &pcm).await;
    eprintln!("prompt: {prompted}");
    assert!(prompted.contains(name), "{prompted}");

    send(
        &mut socket,
        session(json!({"model": "gpt-live-transcribe", "keywords": [name]})),
    )
    .await;
    assert_eq!(next(&mut socket).await["type"], "session.updated");
    let keyworded = one_turn(&mut socket, &pcm).await;
    eprintln!("keywords: {keyworded}");
    assert!(keyworded.contains(name), "{keyworded}");
    assert!(wer(said, &keyworded) <= 0.15, "{keyworded}");
}
