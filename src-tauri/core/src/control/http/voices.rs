//! The speech voices: the catalog, installs, removals.

use super::*;

/// `GET /murmur/api/voices/catalog`: every voice the configured engine can have.
pub(super) async fn voice_catalog(State(control): State<Control>) -> Result<Response, ApiError> {
    Ok(Json(control.voice_catalog().await?).into_response())
}

/// `GET /murmur/api/voices/installs`: this run's installs, as the `voices` events carry them
/// (for a page that cannot follow the event stream).
pub(super) async fn voice_installs(State(control): State<Control>) -> Response {
    Json(control.watch_installs().borrow().clone()).into_response()
}

/// `POST /murmur/api/voices/{id}/install`: starts the download (202); progress comes as
/// `voices` events on the event stream.
pub(super) async fn install_voice(
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
pub(super) async fn cancel_install(
    State(control): State<Control>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    control.cancel_install(&id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /murmur/api/voices/{id}`: remove an installed voice.
pub(super) async fn remove_voice(
    State(control): State<Control>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    control.remove_voice(&id)?;
    Ok(StatusCode::NO_CONTENT)
}
