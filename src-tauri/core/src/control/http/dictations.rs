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

/// `GET /murmur/api/desk`: the microphones, the open one's level and how keys and text go on
/// this desktop (404 without a desk).
pub(super) async fn desk(State(control): State<Control>) -> Result<Response, ApiError> {
    let desk = control.desk().ok_or_else(no_desk)?.clone();
    let (microphones, level, ways) =
        tokio::task::spawn_blocking(move || (desk.microphones(), desk.level(), desk.ways()))
            .await
            .map_err(|e| ApiError::murmur_unavailable(e.to_string()))?;
    Ok(
        Json(serde_json::json!({ "microphones": microphones, "level": level, "ways": ways }))
            .into_response(),
    )
}

fn no_desk() -> ApiError {
    ApiError::not_found("dictation and read aloud run in Murmur's desktop app, not in murmurd")
}

/// How long "Insert again" leaves to click where the text goes.
const INSERT_DELAY: std::time::Duration = std::time::Duration::from_secs(3);

/// `POST /murmur/api/dictations/{id}/insert`: insert it again, into whatever has the focus
/// in three seconds (202).
pub(super) async fn insert(
    State(control): State<Control>,
    Path(id): Path<u64>,
) -> Result<Response, ApiError> {
    let desk = control.desk().ok_or_else(no_desk)?;
    let kept = control
        .dictations()
        .get(id)
        .ok_or_else(|| ApiError::not_found(format!("no dictation {id} is kept")))?;
    desk.insert(kept.text, INSERT_DELAY);
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "delay_ms": INSERT_DELAY.as_millis() as u64 })),
    )
        .into_response())
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
