//! The dictation history, for the page: list, forget one, forget all.

use super::*;

/// `GET /murmur/api/dictations`: newest first, and whether dictation runs here (the desktop
/// app) and keeps a history.
pub(super) async fn list(State(control): State<Control>) -> Response {
    let settings = control.parts().live.get();
    Json(serde_json::json!({
        "desk": control.has_desk(),
        "history": settings.dictation.history,
        "dictations": control.dictations().list(),
    }))
    .into_response()
}

/// `DELETE /murmur/api/dictations`: forget them all.
pub(super) async fn clear(State(control): State<Control>) -> Result<StatusCode, ApiError> {
    control.dictations().clear().map_err(|e| {
        ApiError::conflict(
            Code::SaveFailed,
            format!("cannot clear the dictation history: {e}"),
        )
    })?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /murmur/api/dictations/{id}`: forget one.
pub(super) async fn remove(
    State(control): State<Control>,
    Path(id): Path<u64>,
) -> Result<StatusCode, ApiError> {
    match control.dictations().remove(id) {
        Ok(true) => Ok(StatusCode::NO_CONTENT),
        Ok(false) => Err(ApiError::not_found(format!("no dictation {id} is kept"))),
        Err(e) => Err(ApiError::conflict(
            Code::SaveFailed,
            format!("cannot change the dictation history: {e}"),
        )),
    }
}
