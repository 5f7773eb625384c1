//! The control API under `/murmur/api/`, guarded by a token: status, engine actions,
//! settings, logs. State-changing calls are refused from any web page but Murmur's own.

pub mod local;
pub mod openapi;
pub mod page;
pub mod settings;
pub mod token;

use std::path::PathBuf;

use crate::config::Overrides;

/// What the control API needs beyond the proxy's state.
#[derive(Debug, Clone)]
pub struct Control {
    /// The bearer token (`<data-dir>/control-token`).
    pub token: String,
    /// Where settings are saved.
    pub config_file: PathBuf,
    /// Environment and flag values that win over the file.
    pub overrides: Overrides,
    /// The OpenAI base URL clients use (`http://127.0.0.1:19281/v1`).
    pub api_url: String,
}

/// `GET /murmur/api/about`: what a client needs to know to use this Murmur.
pub async fn about(State(state): State<ProxyState>) -> Json<serde_json::Value> {
    let control = state.control();
    Json(serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "api_url": control.map(|c| c.api_url.as_str()),
        "config_file": control.map(|c| c.config_file.display().to_string()),
    }))
}

/// `GET /murmur/api/logs?lines=N`: the last engine output lines (at most 200 are kept).
pub async fn logs(
    State(state): State<ProxyState>,
    axum::extract::Query(query): axum::extract::Query<LogsQuery>,
) -> Json<serde_json::Value> {
    let lines = state
        .backend()
        .supervisor()
        .map(|s| s.log_tail(query.lines.unwrap_or(100).min(200)))
        .unwrap_or_default();
    Json(serde_json::json!({ "lines": lines }))
}

#[derive(Debug, serde::Deserialize)]
pub struct LogsQuery {
    lines: Option<usize>,
}

use axum::Json;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};

use crate::proxy::{ApiError, ProxyState};
use crate::status::{State as EngineState, Status};

/// `POST /murmur/api/engine/{action}`: start, stop or restart; answers with the status after.
pub async fn engine(
    State(state): State<ProxyState>,
    axum::extract::Path(action): axum::extract::Path<String>,
) -> Result<Json<Status>, ApiError> {
    let Some(supervisor) = state.backend().supervisor() else {
        return Err(ApiError::conflict(
            "not_managed",
            "Murmur does not run this engine ([engine] id = \"external\"), so it cannot start or stop it",
        ));
    };
    match action.as_str() {
        "start" => {
            // The outcome is in the status; a failed start is not an error of this call.
            let _ = supervisor.start().await;
        }
        "stop" => supervisor.stop().await,
        "restart" => supervisor.restart().await,
        other => {
            return Err(ApiError::not_found(format!(
                "no engine action {other:?}; use start, stop or restart"
            )));
        }
    }
    Ok(status(State(state)).await)
}

/// `GET /murmur/api/status`
pub async fn status(State(state): State<ProxyState>) -> Json<Status> {
    let status = match state.backend().supervisor().map(|s| s.status()) {
        Some(receiver) => receiver.borrow().clone(),
        None => {
            // An engine Murmur does not run (or cannot yet): all it knows is whether it answered.
            let spec = crate::engine::spec(state.engine_id());
            let mut status = Status::stopped(spec.id.as_str(), spec.display_name, 0);
            if state.backend().is_ready() {
                status.state = EngineState::Ready;
            }
            status
        }
    };
    Json(status)
}

/// Requires `Authorization: Bearer <control token>`; state-changing calls must not come from a
/// web page other than Murmur's own (the `Origin` check), whatever `allowed_origins` says.
pub async fn require_token(
    State(state): State<ProxyState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(control) = state.control() else {
        return ApiError::forbidden(
            "control_disabled",
            "the control API is not available in this process",
        )
        .into_response();
    };
    let from_query = (request.uri().path() == "/murmur/api/events")
        .then(|| request.uri().query())
        .flatten()
        .and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("token=")))
        .map(String::from);
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(String::from)
        .or(from_query);
    let given = given.as_deref();
    if !given.is_some_and(|given| token::matches(&control.token, given.trim())) {
        let mut response = ApiError::unauthorized_control().into_response();
        *response.status_mut() = StatusCode::UNAUTHORIZED;
        return response;
    }
    let changes_state = !matches!(*request.method(), http::Method::GET | http::Method::HEAD);
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    if changes_state
        && let Some(origin) = origin
        && !state.is_own_origin(origin)
    {
        return ApiError::forbidden(
            "origin_not_allowed",
            format!("{origin} may not change Murmur's state"),
        )
        .into_response();
    }
    next.run(request).await
}

#[derive(Debug, serde::Deserialize)]
pub struct MetricsQuery {
    format: Option<String>,
}

/// `GET /murmur/api/metrics` (JSON) or `?format=prometheus` (text).
pub async fn metrics(
    State(state): State<ProxyState>,
    axum::extract::Query(query): axum::extract::Query<MetricsQuery>,
) -> Response {
    let (restarts, crashes) = state
        .backend()
        .supervisor()
        .map(|s| {
            let s = s.status();
            let s = s.borrow();
            (s.restarts.total, s.restarts.crashes)
        })
        .unwrap_or_default();
    let metrics = state.metrics();
    if query.format.as_deref() == Some("prometheus") {
        let text = metrics.prometheus(restarts, crashes);
        return ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response();
    }
    Json(serde_json::json!({
        "requests": metrics.rows(),
        "response_bytes": metrics.bytes_out(),
        "engine": {"restarts": restarts, "crashes": crashes},
    }))
    .into_response()
}

/// `GET /murmur/api/events`: the status as server-sent events, one per change, with
/// keep-alive comments. EventSource cannot set headers, so the token may come as `?token=`.
pub async fn events(State(state): State<ProxyState>) -> Response {
    use axum::response::sse::{Event, KeepAlive, Sse};
    let receiver = state.backend().supervisor().map(|s| s.status());
    let first = status(State(state.clone())).await.0;
    let initial = futures_util::stream::once(async move { first });
    let changes = futures_util::stream::unfold(receiver, |receiver| async move {
        let mut receiver = receiver?;
        receiver.changed().await.ok()?;
        let next = receiver.borrow_and_update().clone();
        Some((next, Some(receiver)))
    });
    let stream =
        futures_util::StreamExt::map(futures_util::StreamExt::chain(initial, changes), |status| {
            Ok::<_, std::convert::Infallible>(
                Event::default()
                    .event("status")
                    .json_data(&status)
                    .unwrap_or_default(),
            )
        });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(15)))
        .into_response()
}

/// `POST /murmur/api/speak-test` `{"text", "voice", "speed"}`: speech as the page plays it.
pub async fn speak_test(
    State(state): State<ProxyState>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let request: serde_json::Value = if body.is_empty() {
        serde_json::json!({})
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_json(format!("not JSON: {e}")))?
    };
    let text = request
        .get("text")
        .and_then(|t| t.as_str())
        .filter(|t| !t.trim().is_empty())
        .unwrap_or("Hello from Murmur. Your speech server is working.");
    let mut speech = serde_json::json!({ "input": text, "response_format": "wav" });
    for key in ["voice", "speed"] {
        if let Some(value) = request.get(key).filter(|v| !v.is_null()) {
            speech[key] = value.clone();
        }
    }
    crate::proxy::speak(&state, speech).await
}
