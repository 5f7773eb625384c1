//! A fake OpenAI-compatible engine on a real loopback port, in-process, for proxy tests and
//! benchmarks. Speech requests choose its behaviour with a `fake` object in the JSON body,
//! which the proxy passes through untouched:
//! `{"input": "...", "fake": {"bytes": 4096, "chunk": 1024, "delay_ms": 0, "mode": "ok"}}`,
//! where `mode` is `ok`, `empty` (200 with no body) or `fail_mid` (abort after half), and
//! `head_delay_ms` holds the response head back that long.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use futures_util::stream;
use http::StatusCode;
use serde_json::{Value, json};

/// What the fake saw. Tests assert on these.
#[derive(Default)]
pub struct Stats {
    /// Hits on `/probe` (use `probe_path = "/probe"` to count readiness probes alone).
    pub probes: AtomicUsize,
    /// Speech request bodies, in arrival order.
    pub speech: Mutex<Vec<Value>>,
    pub in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    /// Speech streams whose reader went away before the end.
    pub cancelled: AtomicUsize,
    /// Speech streams sent to the end.
    pub completed: AtomicUsize,
    /// The seconds of audio in each transcription request (OpenAI's route, a WAV), in order.
    pub transcribed: Mutex<Vec<f64>>,
}

pub struct FakeUpstream {
    pub addr: SocketAddr,
    pub stats: Arc<Stats>,
    ready: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct Shared {
    stats: Arc<Stats>,
    ready: Arc<AtomicBool>,
    chunk: Bytes,
}

impl FakeUpstream {
    /// Serve on a free loopback port.
    pub async fn start() -> Self {
        Self::start_on(0).await
    }

    /// Serve on `port` (0: any free one).
    pub async fn start_on(port: u16) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind the fake upstream");
        let addr = listener.local_addr().expect("local addr");
        let shared = Shared {
            stats: Arc::new(Stats::default()),
            ready: Arc::new(AtomicBool::new(true)),
            chunk: Bytes::from(vec![0x5a_u8; 64 * 1024]),
        };
        let app = Router::new()
            .route("/probe", get(probe))
            .route("/v1/models", get(models))
            .route("/v1/audio/voices", get(voices))
            .route("/v1/audio/speech", post(speech))
            // Pieces of ten minutes are 19 MB: more than axum's default body limit.
            .route(
                "/v1/audio/transcriptions",
                post(transcription).layer(axum::extract::DefaultBodyLimit::disable()),
            )
            .route(
                "/v1/audio/translations",
                post(transcription).layer(axum::extract::DefaultBodyLimit::disable()),
            )
            .route("/echo", any(echo))
            .route("/echo/{*rest}", any(echo))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            use axum::serve::ListenerExt;
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let _ = axum::serve(listener, app).await;
        });
        Self {
            addr,
            stats: shared.stats,
            ready: shared.ready,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Make `/probe` answer 503 (false) or 200 (true).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    /// The speech bodies received so far.
    pub fn speech_bodies(&self) -> Vec<Value> {
        self.stats.speech.lock().expect("stats lock").clone()
    }
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn probe(State(s): State<Shared>) -> StatusCode {
    s.stats.probes.fetch_add(1, Ordering::SeqCst);
    if s.ready.load(Ordering::SeqCst) {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

async fn models() -> Response {
    // mlx-audio allows every origin; Murmur must not pass that on.
    (
        [("access-control-allow-origin", "*")],
        axum::Json(json!({"object": "list", "data": [{"id": "fake-model", "object": "model"}]})),
    )
        .into_response()
}

async fn voices() -> axum::Json<Value> {
    axum::Json(json!({"voices": [{"id": "fake", "name": "Fake"}]}))
}

/// OpenAI's transcription route, as a server that hears one segment in every piece of audio:
/// `verbose_json` with "piece N" from 0.5 s to 1 s. The WAV's length is read from its header.
async fn transcription(State(s): State<Shared>, body: Bytes) -> axum::Json<Value> {
    let seconds = body
        .windows(4)
        .position(|w| w == b"RIFF")
        .and_then(|at| body.get(at + 24..at + 44))
        .map_or(0.0, |h| {
            let rate = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
            let frame = u16::from_le_bytes([h[8], h[9]]);
            let data = u32::from_le_bytes([h[16], h[17], h[18], h[19]]);
            f64::from(data) / f64::from(frame.max(1)) / f64::from(rate.max(1))
        });
    let n = {
        let mut all = s.stats.transcribed.lock().expect("stats lock");
        all.push(seconds);
        all.len()
    };
    let text = format!(" piece {n}");
    axum::Json(json!({
        "language": "english",
        "duration": seconds,
        "text": text,
        "segments": [{"start": 0.5, "end": 1.0, "text": text}],
    }))
}

/// Everything the fake received, as JSON.
async fn echo(request: Request) -> axum::Json<Value> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let headers: serde_json::Map<String, Value> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(v.to_str().unwrap_or("<binary>"))))
        .collect();
    axum::Json(json!({
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query(),
        "headers": headers,
        "body_len": body.len(),
        "body_head": String::from_utf8_lossy(&body[..body.len().min(64)]),
    }))
}

/// Counts a stream as cancelled unless it reached its end.
struct StreamGuard {
    stats: Arc<Stats>,
    finished: bool,
}

impl StreamGuard {
    fn finish(&mut self) {
        self.finished = true;
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.stats.in_flight.fetch_sub(1, Ordering::SeqCst);
        let counter = if self.finished {
            &self.stats.completed
        } else {
            &self.stats.cancelled
        };
        counter.fetch_add(1, Ordering::SeqCst);
    }
}

async fn speech(State(s): State<Shared>, body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    s.stats
        .speech
        .lock()
        .expect("stats lock")
        .push(request.clone());
    let fake = request.get("fake").cloned().unwrap_or(Value::Null);
    let number = |key: &str, default: u64| fake.get(key).and_then(Value::as_u64).unwrap_or(default);
    let total = number("bytes", 4096) as usize;
    let chunk = (number("chunk", 16 * 1024) as usize).clamp(1, s.chunk.len());
    let delay = Duration::from_millis(number("delay_ms", 0));
    let mode = fake
        .get("mode")
        .and_then(Value::as_str)
        .unwrap_or("ok")
        .to_string();

    let now = s.stats.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    s.stats.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let mut guard = StreamGuard {
        stats: s.stats.clone(),
        finished: false,
    };
    let head_delay = number("head_delay_ms", 0);
    if head_delay > 0 {
        // Dropped here, unfinished, if the proxy gives up on this request while we "think".
        tokio::time::sleep(Duration::from_millis(head_delay)).await;
    }
    if mode == "empty" {
        guard.finish();
        return (
            StatusCode::OK,
            [("content-type", "audio/wav")],
            Body::empty(),
        )
            .into_response();
    }
    let fail_at = (mode == "fail_mid").then_some(total / 2);
    let source = s.chunk.clone();
    let state = (guard, 0usize);
    let body = stream::unfold(state, move |(mut guard, sent)| {
        let source = source.clone();
        async move {
            if fail_at.is_some_and(|at| sent >= at) {
                return Some((
                    Err(std::io::Error::other("fake engine crashed mid-stream")),
                    (guard, total),
                ));
            }
            if sent >= total {
                guard.finish();
                return None;
            }
            if !delay.is_zero() && sent > 0 {
                tokio::time::sleep(delay).await;
            }
            let n = chunk.min(total - sent);
            Some((
                Ok::<_, std::io::Error>(source.slice(..n)),
                (guard, sent + n),
            ))
        }
    });
    (
        StatusCode::OK,
        [("content-type", "audio/wav")],
        Body::from_stream(body),
    )
        .into_response()
}
