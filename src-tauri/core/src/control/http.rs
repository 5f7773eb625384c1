//! The control API over HTTP: Murmur's own routes under `/murmur/`, each an adapter over
//! [`Control`]. `/murmur/api/…` needs the control token; the page, its assets, the OpenAPI
//! document and the health checks do not.

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use http::{StatusCode, header};

use super::settings::SaveError;
use super::{Control, EngineAction, SpeakTest, openapi, page};
use crate::api_error::{ApiError, Code};
use crate::config::{FieldError, Settings};
use crate::engines::Capability;
use crate::status::Status;

/// A settings object is a few KiB; this leaves room for long lists.
const MAX_SETTINGS_BODY: usize = 64 * 1024;

/// Everything under `/murmur/`.
pub fn router(control: Control) -> Router {
    let api = Router::new()
        .route("/murmur/api/status", get(status))
        .route("/murmur/api/about", get(about))
        .route("/murmur/api/engines/{capability}/{action}", post(engine))
        // The routes before engines were a collection; kept for one release.
        .route("/murmur/api/engine/{action}", post(speech_engine))
        .route(
            "/murmur/api/transcription/{action}",
            post(transcription_engine),
        )
        .route(
            "/murmur/api/transcription-models",
            get(transcription_models),
        )
        .route(
            "/murmur/api/transcription-models/{action}",
            post(transcription_model),
        )
        .route("/murmur/api/settings", get(settings).put(save))
        .route("/murmur/api/settings/defaults", get(defaults))
        .route("/murmur/api/logs", get(logs))
        .route("/murmur/api/metrics", get(metrics))
        .route("/murmur/api/events", get(events))
        .route("/murmur/api/speak-test", post(speak_test))
        .route("/murmur/api/transcribe-test", post(transcribe_test))
        .route("/murmur/api/voices/catalog", get(voice_catalog))
        .route("/murmur/api/voices/installs", get(voice_installs))
        .route(
            "/murmur/api/voices/{id}/install",
            post(install_voice).delete(cancel_install),
        )
        .route(
            "/murmur/api/voices/{id}",
            axum::routing::delete(remove_voice),
        )
        .route_layer(middleware::from_fn_with_state(
            control.clone(),
            require_token,
        ));
    Router::new()
        .route("/murmur/healthz", get(healthz))
        .route("/murmur/readyz", get(readyz))
        .route("/murmur/openapi.json", get(openapi::document))
        .merge(api)
        .merge(page::routes())
        .route("/murmur", any(not_found))
        .route("/murmur/{*rest}", any(not_found))
        .with_state(control)
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(control): State<Control>) -> Response {
    if control.engines().speech().backend.is_ready() {
        "ready".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response()
    }
}

async fn not_found(request: Request) -> ApiError {
    ApiError::not_found(format!("Murmur has no page at {}", request.uri().path()))
}

/// `GET /murmur/api/about`
async fn about(State(control): State<Control>) -> Json<super::About> {
    Json(control.about())
}

/// `GET /murmur/api/status`
async fn status(State(control): State<Control>) -> Json<Status> {
    Json(control.status())
}

/// `POST /murmur/api/engines/{capability}/{start|stop|restart}` (`speech`, `transcription`):
/// answers with the status after.
async fn engine(
    State(control): State<Control>,
    Path((capability, action)): Path<(String, String)>,
) -> Result<Json<Status>, ApiError> {
    let capability: Capability = capability.parse().map_err(ApiError::not_found)?;
    let action: EngineAction = action.parse()?;
    control.act(capability, action).await.map(Json)
}

/// `POST /murmur/api/engine/{action}`: the speech engine (before `/engines/speech/…`).
async fn speech_engine(
    State(control): State<Control>,
    Path(action): Path<String>,
) -> Result<Json<Status>, ApiError> {
    let action: EngineAction = action.parse()?;
    control.act(Capability::Speech, action).await.map(Json)
}

/// `POST /murmur/api/transcription/{action}`: the transcription engine (before
/// `/engines/transcription/…`).
async fn transcription_engine(
    State(control): State<Control>,
    Path(action): Path<String>,
) -> Result<Json<Status>, ApiError> {
    let action: EngineAction = action.parse()?;
    control
        .act(Capability::Transcription, action)
        .await
        .map(Json)
}

/// `GET /murmur/api/transcription-models`: the models the transcription engine can use, with
/// size, languages and whether each is installed.
async fn transcription_models(State(control): State<Control>) -> Response {
    Json(control.transcription_models().await).into_response()
}

#[derive(Debug, serde::Deserialize)]
struct ModelBody {
    model: String,
}

/// `POST /murmur/api/transcription-models/{install|cancel|remove}` `{"model": "base"}`: the
/// listing after (an install goes on in the background; the listing shows its progress).
async fn transcription_model(
    State(control): State<Control>,
    Path(action): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let action: super::ModelAction = action.parse()?;
    let body: ModelBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::invalid(
            "model",
            Code::InvalidRequest,
            format!("expected {{\"model\": \"…\"}}: {e}"),
        )
    })?;
    let listing = control.transcription_model(action, &body.model).await?;
    let status = if action == super::ModelAction::Install {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(listing)).into_response())
}

#[derive(Debug, serde::Deserialize)]
struct LogsQuery {
    lines: Option<usize>,
}

/// `GET /murmur/api/logs?lines=N`: the last engine output lines (at most 200 are kept).
async fn logs(State(control): State<Control>, Query(query): Query<LogsQuery>) -> Response {
    let lines = control.log_tail(query.lines.unwrap_or(100));
    Json(serde_json::json!({ "lines": lines })).into_response()
}

#[derive(Debug, serde::Deserialize)]
struct MetricsQuery {
    format: Option<String>,
}

/// `GET /murmur/api/metrics` (JSON) or `?format=prometheus` (the text exposition format).
async fn metrics(State(control): State<Control>, Query(query): Query<MetricsQuery>) -> Response {
    let engines: Vec<(Capability, (u32, u32))> = control
        .engines()
        .iter()
        .filter_map(|e| Some((e.capability, control.restarts(e.capability)?)))
        .collect();
    let metrics = control.metrics();
    if query.format.as_deref() == Some("prometheus") {
        let text = metrics.prometheus(&engines);
        return (
            [(
                header::CONTENT_TYPE,
                crate::metrics::PROMETHEUS_CONTENT_TYPE,
            )],
            text,
        )
            .into_response();
    }
    let restarts = |capability| {
        engines
            .iter()
            .find(|(c, _)| *c == capability)
            .map(|(_, (restarts, crashes))| serde_json::json!({"restarts": restarts, "crashes": crashes}))
    };
    Json(serde_json::json!({
        "requests": metrics.rows(),
        "recent": metrics.recent(),
        "response_bytes": metrics.bytes_out(),
        "queued": metrics.queued(),
        "in_progress": metrics.in_progress(),
        "engine": restarts(Capability::Speech),
        "transcription_engine": restarts(Capability::Transcription),
    }))
    .into_response()
}

/// `GET /murmur/api/events`: the status as server-sent events, one per change, with
/// keep-alive comments. EventSource cannot set headers, so the token may come as `?token=`.
async fn events(State(control): State<Control>) -> Response {
    use axum::response::sse::{Event, KeepAlive, Sse};
    let first = control.status();
    let initial = futures_util::stream::once(async move { first });
    // Any engine's change sends every engine's status.
    let current = control.clone();
    let changes = futures_util::stream::unfold(control.changes(), move |mut changes| {
        let control = current.clone();
        async move {
            changes.next().await?;
            Some((control.status(), changes))
        }
    });
    let statuses =
        futures_util::StreamExt::map(futures_util::StreamExt::chain(initial, changes), |status| {
            Event::default().event("status").json_data(&status)
        });
    let installs =
        futures_util::stream::unfold(control.watch_installs(), |mut receiver| async move {
            receiver.changed().await.ok()?;
            let next = receiver.borrow_and_update().clone();
            Some((next, receiver))
        });
    let installs = futures_util::StreamExt::map(installs, |installs| {
        Event::default().event("voices").json_data(&installs)
    });
    let stream =
        futures_util::StreamExt::map(futures_util::stream::select(statuses, installs), |event| {
            Ok::<_, std::convert::Infallible>(event.unwrap_or_default())
        });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(15)))
        .into_response()
}

/// `GET /murmur/api/voices/catalog`: every voice the configured engine can have.
async fn voice_catalog(State(control): State<Control>) -> Result<Response, ApiError> {
    Ok(Json(control.voice_catalog().await?).into_response())
}

/// `GET /murmur/api/voices/installs`: this run's installs, as the `voices` events carry them
/// (for a page that cannot follow the event stream).
async fn voice_installs(State(control): State<Control>) -> Response {
    Json(control.watch_installs().borrow().clone()).into_response()
}

/// `POST /murmur/api/voices/{id}/install`: starts the download (202); progress comes as
/// `voices` events on the event stream.
async fn install_voice(
    State(control): State<Control>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let install = control.install_voice(&id).await?;
    let status = if install.state == crate::catalog::InstallState::Installed {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(install)).into_response())
}

/// `DELETE /murmur/api/voices/{id}/install`: cancel it.
async fn cancel_install(
    State(control): State<Control>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    control.cancel_install(&id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /murmur/api/voices/{id}`: remove an installed voice.
async fn remove_voice(
    State(control): State<Control>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    control.remove_voice(&id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /murmur/api/transcribe-test`: OpenAI's transcription form, as the page's Record and
/// Transcribe a file send it; the answer `/v1/audio/transcriptions` would give (with the
/// engine's time in `X-Murmur-Engine-Ms`), whatever `[proxy] api_key` says.
async fn transcribe_test(State(control): State<Control>, mut request: Request) -> Response {
    request.headers_mut().remove(header::AUTHORIZATION);
    control.transcribe_test(request).await
}

/// `POST /murmur/api/speak-test` `{"text", "voice", "speed"}`: speech as the page plays it.
async fn speak_test(State(control): State<Control>, body: Bytes) -> Result<Response, ApiError> {
    let test: SpeakTest = if body.is_empty() {
        SpeakTest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_json(format!("not JSON: {e}")))?
    };
    control.speak_test(test).await
}

/// `GET /murmur/api/settings`
async fn settings(State(control): State<Control>) -> Result<Response, ApiError> {
    Ok(Json(control.settings()?).into_response())
}

/// `GET /murmur/api/settings/defaults`: what Murmur runs on without a settings file (and what
/// the page offers when the file is broken).
async fn defaults() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "settings": Settings::default() }))
}

/// `PUT /murmur/api/settings`: the whole settings object. Bad fields get a 422 naming each.
async fn save(State(control): State<Control>, body: Bytes) -> Result<Response, ApiError> {
    if body.len() > MAX_SETTINGS_BODY {
        return Err(ApiError::too_large_settings(MAX_SETTINGS_BODY));
    }
    // serde reads a JSON array into a struct field by field: `[]` would be "all defaults".
    if !body.trim_ascii_start().starts_with(b"{") {
        return Ok(invalid(vec![FieldError {
            key: String::new(),
            message: "the settings must be a JSON object".into(),
        }]));
    }
    let mut reader = serde_json::Deserializer::from_slice(&body);
    let new: Settings = match serde_path_to_error::deserialize(&mut reader) {
        Ok(settings) => settings,
        Err(e) => {
            let key = e.path().to_string();
            return Ok(invalid(vec![FieldError {
                key: if key == "." { String::new() } else { key },
                message: e.inner().to_string(),
            }]));
        }
    };
    match control.save(new).await {
        Ok(saved) => Ok(Json(saved).into_response()),
        Err(SaveError::Invalid(fields)) => Ok(invalid(fields)),
        Err(SaveError::Failed(e)) => Err(e),
    }
}

/// 422 in OpenAI's error shape, with every bad field.
fn invalid(fields: Vec<FieldError>) -> Response {
    let message = fields
        .iter()
        .map(|f| format!("{}: {}", f.key, f.message))
        .collect::<Vec<_>>()
        .join("; ");
    let mut body = ApiError::invalid_settings(message).body();
    body["error"]["fields"] = serde_json::json!(fields);
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

/// Requires `Authorization: Bearer <control token>`; state-changing calls must not come from a
/// web page other than Murmur's own (the `Origin` check), whatever `allowed_origins` says.
async fn require_token(State(control): State<Control>, request: Request, next: Next) -> Response {
    let parts = control.parts();
    let Some(token) = &parts.token else {
        return ApiError::forbidden(
            Code::ControlDisabled,
            "the control API is not available in this process",
        )
        .into_response();
    };
    let from_query = (request.uri().path() == "/murmur/api/events")
        .then(|| request.uri().query())
        .flatten()
        .and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("token=")));
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or(from_query);
    if !given.is_some_and(|given| {
        crate::security::constant_time_eq(token.as_bytes(), given.trim().as_bytes())
    }) {
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
        && !parts.policy.is_own_origin(origin)
    {
        return ApiError::forbidden(
            Code::OriginNotAllowed,
            format!("{origin} may not change Murmur's state"),
        )
        .into_response();
    }
    next.run(request).await
}
