//! The engine's installed voices, with their languages: what `/v1/audio/voices` lists and
//! what a Chinese or Japanese text is matched against. Asked of the engine (with `?model=`,
//! which mlx_audio.server requires) once per engine process and kept until it changes.

use std::collections::BTreeMap;
use std::sync::Arc;

use http::{Method, StatusCode};
use serde_json::Value;

use super::ProxyState;
use super::replay::{Replayable, ready, send_replayable};
use crate::api_error::{ApiError, Code};
use crate::language::{self, Voice};

/// The engine's voices, or `None` when it does not list them (then nothing is switched).
pub(super) async fn installed(state: &ProxyState) -> Result<Option<Arc<Vec<Voice>>>, ApiError> {
    let upstream = ready(state).await?;
    let key = (
        upstream.authority,
        state
            .voices_changed
            .load(std::sync::atomic::Ordering::SeqCst),
    );
    if let Some((cached, voices)) = &*state.voices.lock().unwrap_or_else(|e| e.into_inner())
        && *cached == key
    {
        return Ok(Some(voices.clone()));
    }
    let Some(voices) = ask(state).await? else {
        return Ok(None);
    };
    let voices = Arc::new(voices);
    *state.voices.lock().unwrap_or_else(|e| e.into_inner()) = Some((key, voices.clone()));
    Ok(Some(voices))
}

async fn ask(state: &ProxyState) -> Result<Option<Vec<Voice>>, ApiError> {
    let model = state.defaults().model;
    let uri = match &model {
        Some(model) => format!("/v1/audio/voices?model={}", query_escape(model)),
        None => "/v1/audio/voices".into(),
    };
    let replayable = Replayable {
        method: Method::GET,
        uri: uri
            .parse()
            .map_err(|_| ApiError::bad_json("the model name makes no valid URL"))?,
        headers: http::HeaderMap::new(),
        body: bytes::Bytes::new(),
        gated: false,
        audio: None,
    };
    let response = send_replayable(state, replayable).await?;
    if response.status() != StatusCode::OK {
        return Ok(None);
    }
    let Ok(body) = axum::body::to_bytes(response.into_body(), 4 * 1024 * 1024).await else {
        return Ok(None);
    };
    Ok(serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|list| parse(&list))
        .filter(|voices| !voices.is_empty()))
}

/// The voice for a text in `wanted` when the client left the voice to Murmur: `default` if it
/// speaks `wanted` (or its language is unknown), else the one picked for `wanted` in
/// `by_language` if it is installed, else the first installed voice that speaks it.
/// No such voice is a 400: silence or a voice spelling out foreign letters is worse.
pub(super) fn choose(
    wanted: &str,
    default: Option<String>,
    by_language: &BTreeMap<String, String>,
    voices: &[Voice],
) -> Result<Option<String>, ApiError> {
    let picked = by_language
        .get(wanted)
        .and_then(|id| voices.iter().find(|v| &v.id == id && v.speaks(wanted)));
    let default_language = default.as_deref().and_then(|id| {
        voices
            .iter()
            .find(|v| v.id == id)
            .and_then(|v| v.language.clone())
            .or_else(|| language::kokoro_language(id).map(String::from))
    });
    match default_language {
        None => Ok(default),
        Some(language) if language::primary(&language) == wanted => Ok(default),
        Some(_) => match picked.or_else(|| voices.iter().find(|v| v.speaks(wanted))) {
            Some(voice) => Ok(Some(voice.id.clone())),
            None => {
                let installed: Vec<String> = voices
                    .iter()
                    .map(|v| match &v.language {
                        Some(l) => format!("{} ({l})", v.id),
                        None => v.id.clone(),
                    })
                    .collect();
                Err(ApiError::invalid(
                    "input",
                    Code::NoVoiceForLanguage,
                    format!(
                        "the text is {} ({wanted}), and no installed voice speaks it (installed: {}); \
                         name a voice with `voice`, or install a {} voice from Murmur's voice catalog \
                         (GET /murmur/api/voices/catalog, then POST /murmur/api/voices/<id>/install)",
                        language::name(wanted),
                        if installed.is_empty() {
                            "none".to_string()
                        } else {
                            installed.join(", ")
                        },
                        language::name(wanted),
                    ),
                ))
            }
        },
    }
}

/// `s` as a URL query value: unreserved characters as they are, the rest %-escaped.
fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `{"voices": [...]}` (Open WebUI's shape) or `{"data": [...]}` (OpenAI's list, as
/// mlx_audio.server answers); entries are `{id, name?, language?}` or plain ids.
pub(super) fn parse(list: &Value) -> Option<Vec<Voice>> {
    let entries = list
        .get("voices")
        .or_else(|| list.get("data"))?
        .as_array()?;
    Some(
        entries
            .iter()
            .filter_map(|entry| match entry {
                Value::String(id) => Some(Voice::new(id, id, None)),
                Value::Object(voice) => {
                    let id = voice.get("id")?.as_str()?;
                    let name = voice.get("name").and_then(Value::as_str).unwrap_or(id);
                    let language = voice.get("language").and_then(Value::as_str);
                    Some(Voice::new(id, name, language))
                }
                _ => None,
            })
            .collect(),
    )
}

/// `GET /v1/audio/voices` in both shapes clients read, each voice with its language.
pub(super) fn listing(voices: &[Voice]) -> Value {
    serde_json::json!({ "object": "list", "voices": voices, "data": voices })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_list_shapes_parse_with_languages() {
        let mlx = serde_json::json!({"object": "list", "data": [{"id": "af_heart", "name": "af_heart"}, {"id": "zf_xiaobei"}]});
        let voices = parse(&mlx).expect("a list");
        assert_eq!(voices[0].language.as_deref(), Some("en-US"));
        assert_eq!(voices[1].language.as_deref(), Some("zh"));
        let piper = serde_json::json!({"voices": [{"id": "joe", "name": "Joe", "language": "en_US"}, "extra"]});
        let voices = parse(&piper).expect("a list");
        assert_eq!(voices[0].language.as_deref(), Some("en-US"));
        assert_eq!(voices[1].id, "extra");
        assert_eq!(parse(&serde_json::json!({"detail": "no"})), None);
        let listed = listing(&voices);
        assert_eq!(listed["voices"][0]["id"], "joe");
        assert_eq!(listed["data"][0]["language"], "en-US");
        assert_eq!(
            query_escape("mlx-community/Kokoro 82M"),
            "mlx-community%2FKokoro%2082M"
        );
    }
}
