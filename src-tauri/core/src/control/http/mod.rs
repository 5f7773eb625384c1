//! The control API over HTTP: Murmur's own routes under `/murmur/`, each an adapter over
//! [`Control`]. `/murmur/api/…` needs the control token; the page, its assets, the OpenAPI
//! document and the health checks do not.

mod dictations;
mod engines;
mod models;
mod settings;
mod trial;
mod voices;

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

/// Everything under `/murmur/`.
pub fn router(control: Control) -> Router {
    let api = Router::new()
        .route("/murmur/api/status", get(status))
        .route("/murmur/api/about", get(about))
        .route(
            "/murmur/api/engines/{capability}/{action}",
            post(engines::engine),
        )
        // The routes before engines were a collection; kept for one release.
        .route(
            "/murmur/api/engine/{action}",
            post(|control, action| engines::act(control, Capability::Speech, action)),
        )
        .route(
            "/murmur/api/transcription/{action}",
            post(|control, action| engines::act(control, Capability::Transcription, action)),
        )
        .route(
            "/murmur/api/transcription-models",
            get(models::transcription_models),
        )
        .route(
            "/murmur/api/transcription-models/{action}",
            post(models::transcription_model),
        )
        .route(
            "/murmur/api/settings",
            get(settings::settings).put(settings::save),
        )
        .route("/murmur/api/settings/defaults", get(settings::defaults))
        .route("/murmur/api/logs", get(engines::logs))
        .route("/murmur/api/metrics", get(engines::metrics))
        .route("/murmur/api/events", get(engines::events))
        .route("/murmur/api/speak-test", post(trial::speak_test))
        .route("/murmur/api/transcribe-test", post(trial::transcribe_test))
        .route(
            "/murmur/api/dictations",
            get(dictations::list).delete(dictations::clear),
        )
        .route(
            "/murmur/api/dictations/{id}",
            axum::routing::delete(dictations::remove),
        )
        .route(
            "/murmur/api/dictations/{id}/insert",
            post(dictations::insert),
        )
        .route("/murmur/api/desk", get(dictations::desk))
        .route("/murmur/api/voices/catalog", get(voices::voice_catalog))
        .route("/murmur/api/voices/installs", get(voices::voice_installs))
        .route(
            "/murmur/api/voices/{id}/install",
            post(voices::install_voice).delete(voices::cancel_install),
        )
        .route(
            "/murmur/api/voices/{id}",
            axum::routing::delete(voices::remove_voice),
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
