//! The proxy's error paths, in process: the router answers a request built here through
//! `oneshot`, with a stand-in [`Backend`] whose engine is not ready, or listens nowhere.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use futures_util::FutureExt;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use super::*;
use crate::backend::{Backend, Upstream};
use crate::config::{LiveSettings, Settings};
use crate::problem::{Problem, Stage};

/// An engine that answers `ensure_ready` with `outcome`, and counts what the proxy asks.
struct StandIn {
    outcome: Mutex<Result<Upstream, Problem>>,
    asked: AtomicUsize,
    reported: AtomicUsize,
}

impl StandIn {
    fn new(outcome: Result<Upstream, Problem>) -> Arc<Self> {
        Arc::new(Self {
            outcome: Mutex::new(outcome),
            asked: AtomicUsize::new(0),
            reported: AtomicUsize::new(0),
        })
    }
}

impl Backend for StandIn {
    fn ensure_ready(&self) -> futures_util::future::BoxFuture<'_, Result<Upstream, Problem>> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        let outcome = self.outcome.lock().expect("outcome").clone();
        async move { outcome }.boxed()
    }

    fn current(&self) -> Option<Upstream> {
        None
    }

    fn report_unreachable(&self, _upstream: &Upstream) {
        self.reported.fetch_add(1, Ordering::SeqCst);
    }

    fn is_ready(&self) -> bool {
        false
    }
}

fn proxy(backend: Arc<StandIn>) -> Router {
    let mut settings = Settings::default();
    settings.engine.id = crate::config::EngineId::Custom;
    let speech = Engine::reached_by(Capability::Speech, backend, &settings);
    let state = ProxyState::new(
        LiveSettings::new(settings),
        Engines::of(vec![speech]),
        Arc::default(),
        crate::http_client::new(),
        crate::drain::Lifeline::detached(),
    );
    router(state)
}

/// The status, the `Retry-After` header, and the JSON body of `request`'s answer.
async fn answer(router: Router, request: http::Request<Body>) -> (u16, Option<String>, Value) {
    let response = router.oneshot(request).await.expect("infallible");
    let status = response.status().as_u16();
    let retry = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let json = serde_json::from_slice(&body).expect("an error body is JSON");
    (status, retry, json)
}

fn speech(body: &str) -> http::Request<Body> {
    http::Request::post("/v1/audio/speech")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("request")
}

#[tokio::test]
async fn an_engine_that_is_not_ready_is_a_503_with_its_stage_and_hint() {
    let problem = Problem::new("the model is still downloading")
        .at(Stage::Starting)
        .hint("wait a minute");
    let backend = StandIn::new(Err(problem));
    let (status, retry, body) = answer(proxy(backend.clone()), speech(r#"{"input":"Hi"}"#)).await;
    assert_eq!(status, 503);
    assert_eq!(retry.as_deref(), Some("5"));
    let error = &body["error"];
    assert_eq!(error["code"], "engine_not_ready");
    assert_eq!(error["type"], "server_error");
    assert_eq!(error["message"], "the model is still downloading");
    assert_eq!(error["stage"], "starting");
    assert_eq!(error["hint"], "wait a minute");
    assert_eq!(backend.asked.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_bad_request_is_refused_before_the_engine_is_asked() {
    let backend = StandIn::new(Err(Problem::new("never asked")));
    for (body, code, param) in [
        ("{not json", "invalid_json", Value::Null),
        (r#"{"input":""}"#, "empty_input", "input".into()),
        (
            r#"{"input":"Hi","speed":10}"#,
            "invalid_speed",
            "speed".into(),
        ),
        (
            r#"{"input":"Hi","response_format":"ogg"}"#,
            "invalid_format",
            "response_format".into(),
        ),
    ] {
        let (status, _, reply) = answer(proxy(backend.clone()), speech(body)).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(reply["error"]["code"], code, "{body}");
        assert_eq!(reply["error"]["param"], param, "{body}");
        assert_eq!(reply["error"]["type"], "invalid_request_error");
    }
    assert_eq!(backend.asked.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn another_method_on_a_speech_route_is_murmurs_405() {
    let backend = StandIn::new(Err(Problem::new("never asked")));
    let request = http::Request::get("/v1/audio/speech")
        .body(Body::empty())
        .expect("request");
    let (status, _, body) = answer(proxy(backend), request).await;
    assert_eq!(status, 405);
    assert_eq!(body["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn an_engine_that_listens_nowhere_is_reported_and_the_client_told() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let gone = Upstream::new(format!("127.0.0.1:{port}").parse().expect("authority"));
    let backend = StandIn::new(Ok(gone));
    let (status, retry, body) = answer(proxy(backend.clone()), speech(r#"{"input":"Hi"}"#)).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "engine_unreachable");
    assert_eq!(retry.as_deref(), Some("1"));
    assert!(
        backend.reported.load(Ordering::SeqCst) >= 1,
        "the dead port was reported"
    );
}

#[tokio::test]
async fn transcription_when_it_is_off_and_other_paths_when_nothing_runs() {
    let backend = StandIn::new(Err(Problem::new("never asked")));
    let request = http::Request::post("/v1/audio/transcriptions")
        .header(header::CONTENT_TYPE, "multipart/form-data; boundary=x")
        .body(Body::from("--x--\r\n"))
        .expect("request");
    let (status, _, body) = answer(proxy(backend.clone()), request).await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("transcription is off")),
        "{body}"
    );

    let request = http::Request::get("/v1/something-else")
        .body(Body::empty())
        .expect("request");
    let (status, _, body) = answer(proxy(backend), request).await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "engine_not_ready");
}
