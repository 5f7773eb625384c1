//! The control API under `/murmur/api/`, guarded by a token. For now: the status.

pub mod token;

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
    let status = match state.backend().status() {
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

/// Requires `Authorization: Bearer <control token>`.
pub async fn require_token(
    State(state): State<ProxyState>,
    request: Request,
    next: Next,
) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match (state.control_token(), given) {
        (Some(token), Some(given)) if token::matches(token, given.trim()) => {
            next.run(request).await
        }
        (None, _) => ApiError::forbidden(
            "control_disabled",
            "the control API is not available in this process",
        )
        .into_response(),
        _ => {
            let mut response = ApiError::unauthorized_control().into_response();
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            response
        }
    }
}
