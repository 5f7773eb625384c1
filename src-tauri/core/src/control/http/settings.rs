//! The settings: read, the defaults, saved.

use super::*;

/// A settings object is a few KiB; this leaves room for long lists.
const MAX_SETTINGS_BODY: usize = 64 * 1024;

/// `GET /murmur/api/settings`
pub(super) async fn settings(State(control): State<Control>) -> Result<Response, ApiError> {
    Ok(Json(control.settings()?).into_response())
}

/// `GET /murmur/api/settings/defaults`: what Murmur runs on without a settings file (and what
/// the page offers when the file is broken).
pub(super) async fn defaults() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "settings": Settings::default() }))
}

/// `PUT /murmur/api/settings`: the whole settings object. Bad fields get a 422 naming each.
pub(super) async fn save(
    State(control): State<Control>,
    body: Bytes,
) -> Result<Response, ApiError> {
    if body.len() > MAX_SETTINGS_BODY {
        return Err(ApiError::too_large_settings(MAX_SETTINGS_BODY));
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
    match control.save(new).await {
        Ok(saved) => Ok(Json(saved).into_response()),
        Err(SaveError::Invalid(fields)) => Ok(invalid(fields)),
        Err(SaveError::Failed(e)) => Err(e),
    }
}

/// 422 in OpenAI's error shape, with every bad field.
pub(super) fn invalid(fields: Vec<FieldError>) -> Response {
    let message = fields
        .iter()
        .map(|f| format!("{}: {}", f.key, f.message))
        .collect::<Vec<_>>()
        .join("; ");
    let mut body = ApiError::invalid_settings(message).body();
    body["error"]["fields"] = serde_json::json!(fields);
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}
