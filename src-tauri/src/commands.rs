//! What the settings window may call over IPC: the control API. The page is the same one
//! `murmurd` serves; here its requests go through [`api`] instead of `fetch`, and the window's
//! process adds the token, so none ever appears in the page.

use murmur_core::api_error::{ApiError, Code};
use murmur_core::control::local::{LocalApi, LocalError};
use serde::Serialize;
use tauri::ipc::Response;
use tauri::{AppHandle, Manager, Runtime};

/// The control API the window's IPC calls reach (the tray's Murmur, over loopback).
pub struct WindowApi(pub LocalApi);

/// A call that did not succeed: the HTTP status and the body (OpenAI's error shape, or the
/// settings API's field list), so the page handles both transports alike.
#[derive(Debug, Serialize)]
pub struct Failure {
    pub status: u16,
    pub body: serde_json::Value,
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Self {
            status: e.status.as_u16(),
            body: e.body(),
        }
    }
}

impl Failure {
    fn unavailable(message: impl std::fmt::Display) -> Self {
        ApiError::murmur_unavailable(message.to_string()).into()
    }
}

/// `method path` with an optional JSON body; a success answers with the body's bytes
/// (JSON or audio), anything else with a [`Failure`].
#[tauri::command]
pub async fn api<R: Runtime>(
    app: AppHandle<R>,
    method: String,
    path: String,
    body: Option<serde_json::Value>,
) -> Result<Response, Failure> {
    let local = window_api(&app)?;
    let body = body.map(|b| b.to_string().into_bytes());
    let reply = local.call(&method, &path, body).await.map_err(not_sent)?;
    answer(reply)
}

/// The tray's control API, once the window has it.
fn window_api<R: Runtime>(app: &AppHandle<R>) -> Result<LocalApi, Failure> {
    app.try_state::<WindowApi>()
        .map(|api| api.0.clone())
        .ok_or_else(|| Failure::unavailable("Murmur is still starting"))
}

/// A call that never got an answer: Murmur away (503) or a call the window may not make (403).
fn not_sent(e: LocalError) -> Failure {
    match e {
        LocalError::Unavailable(why) => {
            Failure::unavailable(format!("Murmur is not answering: {why}"))
        }
        refused_call => refused(refused_call.to_string()),
    }
}

/// A success's bytes, or a [`Failure`].
fn answer(reply: murmur_core::control::local::Reply) -> Result<Response, Failure> {
    if reply.is_success() {
        Ok(Response::new(reply.body.to_vec()))
    } else {
        Err(Failure {
            status: reply.status.as_u16(),
            body: reply.json(),
        })
    }
}

/// An upload (the page's Record and Transcribe a file): the body raw, as the page's fetch
/// would send it; its path in `X-Murmur-Path`, its type in `X-Murmur-Content-Type` (a
/// multipart form; Tauri sets `Content-Type` itself).
#[tauri::command]
pub async fn upload<R: Runtime>(
    app: AppHandle<R>,
    request: tauri::ipc::Request<'_>,
) -> Result<Response, Failure> {
    let local = window_api(&app)?;
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (path, content_type) = (header("x-murmur-path"), header("x-murmur-content-type"));
    let tauri::ipc::InvokeBody::Raw(body) = request.body() else {
        return Err(refused("an upload's body must be raw bytes".into()));
    };
    let reply = local
        .upload(&path, &content_type, body.clone())
        .await
        .map_err(not_sent)?;
    answer(reply)
}

fn refused(message: String) -> Failure {
    ApiError::forbidden(Code::NotAllowed, message).into()
}
