//! `GET|PUT /murmur/api/settings`: the settings file, read and written whole.
//!
//! A `PUT` is validated completely before anything is saved: every bad field is reported
//! (422, with the dotted key of each), and nothing is written unless all of it is valid. A
//! valid one is saved atomically (the previous file kept as `.bak`) and handed to the engine,
//! which restarts if how it is launched changed. Proxy settings (port, limits, security) take
//! effect at Murmur's next start; the answer says so.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Serialize;

use crate::config::{self, FieldError, Settings};
use crate::proxy::{ApiError, ProxyState};

/// A settings object is a few KiB; this leaves room for long lists.
const MAX_BODY: usize = 64 * 1024;

#[derive(Serialize)]
struct Current {
    settings: Settings,
    config_file: String,
    /// Values set by flags or the environment, which win over the file.
    overridden: Vec<&'static str>,
}

#[derive(Serialize)]
struct Saved {
    saved: bool,
    /// The engine restarts to apply these settings.
    restarts_engine: bool,
    /// These settings apply at Murmur's next start.
    needs_murmur_restart: bool,
}

#[derive(Serialize)]
struct Invalid {
    error: InvalidError,
}

#[derive(Serialize)]
struct InvalidError {
    message: String,
    #[serde(rename = "type")]
    kind: &'static str,
    code: &'static str,
    fields: Vec<FieldError>,
}

fn invalid(fields: Vec<FieldError>) -> Response {
    let message = fields
        .iter()
        .map(|f| format!("{}: {}", f.key, f.message))
        .collect::<Vec<_>>()
        .join("; ");
    let body = Invalid {
        error: InvalidError {
            message,
            kind: "invalid_request_error",
            code: "invalid_settings",
            fields,
        },
    };
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

fn control(state: &ProxyState) -> Result<&super::Control, ApiError> {
    state
        .control()
        .ok_or_else(|| ApiError::forbidden("control_disabled", "the control API is not available"))
}

/// `GET /murmur/api/settings`
pub async fn get(State(state): State<ProxyState>) -> Result<Response, ApiError> {
    let control = control(&state)?;
    let settings = config::load_file(&control.config_file)
        .map_err(|e| ApiError::conflict("config_broken", format!("{e}")))?;
    let mut overridden = Vec::new();
    if control.overrides.port.is_some() {
        overridden.push("proxy.port");
    }
    if control.overrides.engine.is_some() {
        overridden.push("engine.id");
    }
    Ok(Json(Current {
        settings,
        config_file: control.config_file.display().to_string(),
        overridden,
    })
    .into_response())
}

/// `GET /murmur/api/settings/defaults`: what Murmur runs on without a settings file (and what
/// the page offers when the file is broken).
pub async fn defaults() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "settings": Settings::default() }))
}

/// `PUT /murmur/api/settings`: the whole settings object.
pub async fn put(State(state): State<ProxyState>, body: Bytes) -> Result<Response, ApiError> {
    let control = control(&state)?;
    if body.len() > MAX_BODY {
        return Err(ApiError::too_large_settings(MAX_BODY));
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
    let errors = config::check(&new);
    if !errors.is_empty() {
        return Ok(invalid(errors));
    }
    config::save(&control.config_file, &new)
        .map_err(|e| ApiError::conflict("save_failed", e.to_string()))?;
    // What runs now against what will run: the file with flags and environment on top, so a
    // change the overrides mask restarts nothing, and the answer says so.
    let running = state.live().get();
    let mut effective = new;
    control.overrides.apply(&mut effective);
    let restarts_engine =
        running.engine.relaunches_for(&effective.engine) && state.backend().supervisor().is_some();
    let needs_murmur_restart = running.proxy != effective.proxy;
    state.live().set(effective.clone());
    state.backend().apply(effective).await;
    Ok(Json(Saved {
        saved: true,
        restarts_engine,
        needs_murmur_restart,
    })
    .into_response())
}
