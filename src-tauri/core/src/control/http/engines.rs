//! The engines: start, stop, restart; their output; the figures; the status as events.

use super::*;

/// `POST /murmur/api/engines/{capability}/{start|stop|restart}` (`speech`, `transcription`):
/// answers with the status after.
pub(super) async fn engine(
    control: State<Control>,
    Path((capability, action)): Path<(String, String)>,
) -> Result<Json<Status>, ApiError> {
    let capability: Capability = capability
        .parse()
        .map_err(|e: crate::engine::NoSuchCapability| ApiError::not_found(e.to_string()))?;
    act(control, capability, Path(action)).await
}

/// Start, stop or restart the engine of `capability` (also what the routes from before engines
/// were a collection call: `/engine/{action}` for speech, `/transcription/{action}`).
pub(super) async fn act(
    State(control): State<Control>,
    capability: Capability,
    Path(action): Path<String>,
) -> Result<Json<Status>, ApiError> {
    let action: EngineAction = action.parse()?;
    control.act(capability, action).await.map(Json)
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct LogsQuery {
    lines: Option<usize>,
}

/// `GET /murmur/api/logs?lines=N`: the last engine output lines (at most 200 are kept).
pub(super) async fn logs(
    State(control): State<Control>,
    Query(query): Query<LogsQuery>,
) -> Response {
    let lines = control.log_tail(query.lines.unwrap_or(100));
    Json(serde_json::json!({ "lines": lines })).into_response()
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct MetricsQuery {
    format: Option<String>,
}

/// `GET /murmur/api/metrics` (JSON) or `?format=prometheus` (the text exposition format).
pub(super) async fn metrics(
    State(control): State<Control>,
    Query(query): Query<MetricsQuery>,
) -> Response {
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
        "live_sessions": metrics.live.open_now(),
        "engine": restarts(Capability::Speech),
        "transcription_engine": restarts(Capability::Transcription),
    }))
    .into_response()
}

/// `GET /murmur/api/events`: the status as server-sent events, one per change, with
/// keep-alive comments. EventSource cannot set headers, so the token may come as `?token=`.
pub(super) async fn events(State(control): State<Control>) -> Response {
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
