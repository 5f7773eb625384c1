//! Live transcription's test clients: the real ones from PyPI (`fixtures/live-clients`, run
//! with their own interpreter) and a raw WebSocket client for what no SDK sends (the beta
//! shape by hand, bad events, a foreign `Origin`).

use std::path::PathBuf;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::OnceCell;
use tokio_tungstenite::tungstenite::{self, Message, client::IntoClientRequest};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::Murmurd;
use crate::listening::{Stage, speak};
use crate::tools::provisioned;

/// Tests that play speech in real time take turns: words before the speech ends are a race
/// against the clock, and four engines decoding at once on two cores would lose it.
pub async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    TURN.lock().await
}

/// The live clients' interpreter, provisioned on first use.
pub async fn python() -> PathBuf {
    static PYTHON: OnceCell<PathBuf> = OnceCell::const_new();
    PYTHON
        .get_or_init(|| provisioned("live-clients"))
        .await
        .clone()
}

/// Run `script` from `fixtures/live-clients`; its stdout as JSON (panics with its stderr).
pub async fn run(script: &str, args: &[&str]) -> Value {
    let project = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/live-clients");
    let output = tokio::process::Command::new(python().await)
        .arg(project.join(script))
        .args(args)
        .output()
        .await
        .expect("run the script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{script} printed {stdout}: {e}"))
}

/// Piper's speech for `text` as OpenAI's `pcm` (24 kHz mono s16le), in a file that lives as
/// long as the returned directory.
pub async fn speech_file(murmurd: &Murmurd, text: &str) -> (tempfile::TempDir, PathBuf) {
    let pcm = speak(murmurd, text, "pcm").await;
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("speech.pcm");
    std::fs::write(&file, &pcm).expect("write");
    (dir, file)
}

/// A murmurd with Piper and `tiny.en`, both ready (a live session's first turn then measures
/// Murmur, not a cold start).
pub async fn warm_murmurd(stage: &Stage, extra: &str) -> Murmurd {
    let murmurd = stage.murmurd(extra).await;
    let reply = murmurd
        .control_post("/murmur/api/engines/transcription/start")
        .await;
    assert!(
        reply.status.is_success(),
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    loop {
        let status = murmurd.status().await;
        let ready = status["engines"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["capability"] == "transcription" && e["state"] == "ready");
        if ready {
            return murmurd;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "transcription not ready: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connect to `url` (`ws://…`) with extra `headers`; the socket, or the refusal's status and
/// body.
pub async fn connect(url: &str, headers: &[(&str, &str)]) -> Result<Socket, (u16, String)> {
    let mut request = url.into_client_request().expect("request");
    for (name, value) in headers {
        request.headers_mut().insert(
            http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
            http::HeaderValue::from_str(value).expect("value"),
        );
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tungstenite::Error::Http(response)) => {
            let status = response.status().as_u16();
            let body = response
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            Err((status, body))
        }
        Err(e) => panic!("cannot connect to {url}: {e}"),
    }
}

/// Connect once a session slot is free: a closed session holds its slot until Murmur has
/// read the close (waited for at most 10 s).
pub async fn connect_once_free(url: &str, headers: &[(&str, &str)]) -> Socket {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match connect(url, headers).await {
            Ok(socket) => return socket,
            Err((429, _)) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("{e:?}"),
        }
    }
}

/// The next server event (10 s at most).
pub async fn next(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("an event within 10 s")
            .expect("the socket open")
            .expect("a message");
        match message {
            Message::Text(text) => return serde_json::from_str(&text).expect("JSON"),
            Message::Close(frame) => panic!("closed: {frame:?}"),
            _ => {}
        }
    }
}

/// Send one event.
pub async fn send(socket: &mut Socket, event: Value) {
    send_text(socket, &event.to_string()).await;
}

/// Send one text message, JSON or not.
pub async fn send_text(socket: &mut Socket, text: &str) {
    socket.send(Message::text(text)).await.expect("send");
}

/// `input_audio_buffer.append` of raw bytes.
pub fn append(bytes: &[u8]) -> Value {
    use base64::Engine as _;
    json!({
        "type": "input_audio_buffer.append",
        "audio": base64::engine::general_purpose::STANDARD.encode(bytes),
    })
}
