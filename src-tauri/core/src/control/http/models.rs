//! The transcription models: listed, installed, cancelled, removed.

use super::*;

/// `GET /murmur/api/transcription-models`: the models the transcription engine can use, with
/// size, languages and whether each is installed.
pub(super) async fn transcription_models(State(control): State<Control>) -> Response {
    Json(control.transcription_models().await).into_response()
}

#[derive(Debug, serde::Deserialize)]
struct ModelBody {
    model: String,
}

/// `POST /murmur/api/transcription-models/{install|cancel|remove}` `{"model": "base"}`: the
/// listing after (an install goes on in the background; the listing shows its progress).
pub(super) async fn transcription_model(
    State(control): State<Control>,
    Path(action): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let action: crate::control::ModelAction = action.parse()?;
    let body: ModelBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::invalid(
            "model",
            Code::InvalidRequest,
            format!("expected {{\"model\": \"…\"}}: {e}"),
        )
    })?;
    let listing = control.transcription_model(action, &body.model).await?;
    let status = if action == crate::control::ModelAction::Install {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(listing)).into_response())
}
