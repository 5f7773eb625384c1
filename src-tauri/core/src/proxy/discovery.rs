//! The lists clients discover models and voices from (`/v1/models`, `/v1/audio/voices`,
//! `/v1/audio/models`, also without `/v1`): they wait for the engine and are forwarded, and
//! an engine without Open WebUI's shapes still gets an answer in them.

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode};

use super::replay::{Replayable, send_replayable};
use super::{ProxyState, speech};
use crate::api_error::{ApiError, Code};

/// `GET /v1/models`, `GET /v1/audio/voices`: wait for the engine, then forward.
pub(super) async fn gated(
    State(state): State<ProxyState>,
    request: Request,
) -> Result<Response, ApiError> {
    let activity = state.speech().backend.activity();
    let (parts, _body) = request.into_parts();
    // `/audio/voices` and friends are `/v1/…` to the engine.
    let path = match parts.uri.path() {
        p if p.starts_with("/v1/") => p.to_owned(),
        p => format!("/v1{p}"),
    };
    // The configured model's voices, with their languages, in both shapes clients read.
    if path == "/v1/audio/voices"
        && let Some(voices) = super::voices::installed(&state).await?
    {
        return Ok(crate::backend::hold(
            axum::Json(super::voices::listing(&voices)).into_response(),
            activity,
        ));
    }
    let uri = match parts.uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.clone(),
    };
    let replayable = Replayable {
        method: parts.method,
        uri: uri
            .parse()
            .map_err(|_| ApiError::bad_json("the request's path is not valid"))?,
        headers: parts.headers,
        body: bytes::Bytes::new(),
        gated: false,
        audio: None,
    };
    let response = send_replayable(&state, replayable).await?;
    if path == "/v1/models" && response.status() == StatusCode::OK {
        return Ok(crate::backend::hold(
            with_transcription_model(&state, response).await,
            activity,
        ));
    }
    // mlx_audio.server answers 400 to a voice list without `?model=`, others 404.
    if matches!(
        response.status(),
        StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST
    ) {
        if let Some(listing) = fallback_listing(&path, &state.defaults()) {
            return Ok(axum::Json(listing).into_response());
        }
        if path == "/v1/audio/models"
            && let Some(listing) = models_from_engine(&state).await
        {
            return Ok(axum::Json(listing).into_response());
        }
    }
    Ok(crate::backend::hold(response, activity))
}

/// The engine's model list with the transcription model added (unless transcription is off,
/// or the list is not OpenAI's shape: then it passes as it came).
async fn with_transcription_model(state: &ProxyState, response: Response) -> Response {
    let settings = state.live().get();
    let model = match (
        state.transcription(),
        settings.transcription.effective_model(),
    ) {
        (Some(_), Some(model)) => model,
        _ => return response,
    };
    let (parts, body) = response.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 4 * 1024 * 1024).await else {
        return ApiError::bad_gateway(Code::EngineFailed, "the engine's model list broke off")
            .into_response();
    };
    let mut list: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(list) => list,
        Err(_) => return Response::from_parts(parts, body.into()),
    };
    let Some(data) = list["data"].as_array_mut() else {
        return Response::from_parts(parts, body.into());
    };
    if !data.iter().any(|m| m["id"] == model.as_str()) {
        data.push(serde_json::json!({
            "id": model,
            "object": "model",
            "created": 0,
            "owned_by": "murmur",
            "capability": "transcription",
        }));
    }
    let mut response = axum::Json(list).into_response();
    *response.status_mut() = parts.status;
    response
}

/// Open WebUI's model list in its shape (`{"models":[{"id"}]}`), made from the engine's
/// OpenAI list (`{"data":[{"id"}]}`).
async fn models_from_engine(state: &ProxyState) -> Option<serde_json::Value> {
    let replayable = Replayable {
        method: Method::GET,
        uri: http::Uri::from_static("/v1/models"),
        headers: http::HeaderMap::new(),
        body: bytes::Bytes::new(),
        gated: false,
        audio: None,
    };
    let response = send_replayable(state, replayable).await.ok()?;
    if response.status() != StatusCode::OK {
        return None;
    }
    let body = axum::body::to_bytes(response.into_body(), 1024 * 1024)
        .await
        .ok()?;
    let list: serde_json::Value = serde_json::from_slice(&body).ok()?;
    let models: Vec<serde_json::Value> = list["data"]
        .as_array()?
        .iter()
        .filter_map(|m| m["id"].as_str())
        .map(|id| serde_json::json!({ "id": id }))
        .collect();
    Some(serde_json::json!({ "models": models }))
}

/// Open WebUI asks for `/v1/audio/voices` and `/v1/audio/models`; an engine without them
/// (mlx_audio.server) still gets an answer: its configured voice and model.
fn fallback_listing(path: &str, defaults: &speech::Defaults) -> Option<serde_json::Value> {
    match path {
        "/v1/audio/voices" => {
            let voice = defaults.voice.as_ref()?;
            Some(serde_json::json!({"voices": [{"id": voice, "name": voice}]}))
        }
        "/v1/audio/models" => {
            let model = defaults.model.as_ref()?;
            Some(serde_json::json!({"models": [{"id": model}]}))
        }
        _ => None,
    }
}
