//! OpenAI's Realtime events as a transcription session has them: what clients send
//! ([`ClientEvent`]) and what Murmur answers (built by [`Ids`] with ids in OpenAI's form).

use serde_json::{Value, json};

/// Whether a session speaks GA's events or the beta's (`OpenAI-Beta: realtime=v1`, or a
/// `transcription_session.update`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    Ga,
    Beta,
}

/// An event a client sent.
#[derive(Debug)]
pub enum ClientEvent {
    /// `session.update` (GA) or `transcription_session.update` (beta): the `session` object.
    Update {
        shape: Shape,
        session: Value,
    },
    /// `input_audio_buffer.append`: the audio, decoded from base64.
    Append(Vec<u8>),
    Commit,
    Clear,
}

/// A client event Murmur cannot take: what the `error` event says.
#[derive(Debug, PartialEq)]
pub struct BadEvent {
    pub code: &'static str,
    pub message: String,
    pub param: Option<String>,
    /// The client's `event_id`, when it gave one.
    pub event_id: Option<String>,
}

impl BadEvent {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            param: None,
            event_id: None,
        }
    }
}

/// Read one text message.
pub fn parse(text: &str) -> Result<ClientEvent, BadEvent> {
    use base64::Engine as _;
    let value: Value = serde_json::from_str(text)
        .map_err(|e| BadEvent::new("invalid_json", format!("the event is not JSON: {e}")))?;
    let event_id = value["event_id"].as_str().map(String::from);
    let with_id = |mut bad: BadEvent| {
        bad.event_id.clone_from(&event_id);
        bad
    };
    let Some(kind) = value["type"].as_str() else {
        return Err(with_id(BadEvent::new(
            "missing_type",
            "the event has no \"type\"",
        )));
    };
    let session = || match value.get("session") {
        Some(session) if session.is_object() => Ok(session.clone()),
        _ => Err(with_id(BadEvent {
            param: Some("session".into()),
            ..BadEvent::new(
                "missing_required_parameter",
                "the event needs a \"session\" object",
            )
        })),
    };
    match kind {
        "session.update" => Ok(ClientEvent::Update {
            shape: Shape::Ga,
            session: session()?,
        }),
        "transcription_session.update" => Ok(ClientEvent::Update {
            shape: Shape::Beta,
            session: session()?,
        }),
        "input_audio_buffer.append" => {
            let Some(audio) = value["audio"].as_str() else {
                return Err(with_id(BadEvent {
                    param: Some("audio".into()),
                    ..BadEvent::new(
                        "missing_required_parameter",
                        "input_audio_buffer.append needs \"audio\" (base64)",
                    )
                }));
            };
            base64::engine::general_purpose::STANDARD
                .decode(audio)
                .map(ClientEvent::Append)
                .map_err(|e| {
                    with_id(BadEvent {
                        param: Some("audio".into()),
                        ..BadEvent::new("invalid_value", format!("\"audio\" is not base64: {e}"))
                    })
                })
        }
        "input_audio_buffer.commit" => Ok(ClientEvent::Commit),
        "input_audio_buffer.clear" => Ok(ClientEvent::Clear),
        other => Err(with_id(BadEvent::new(
            "invalid_event",
            format!(
                "Murmur's transcription sessions take session.update, \
                 transcription_session.update and input_audio_buffer.append, commit and clear; \
                 not {other:?}"
            ),
        ))),
    }
}

/// Ids as OpenAI's look (`event_…`, `item_…`, `sess_…`): a random stem per session and a
/// count, so they are unique without a random draw per event.
pub struct Ids {
    stem: String,
    next: u64,
}

impl Default for Ids {
    fn default() -> Self {
        let mut bytes = [0u8; 8];
        let _ = getrandom::fill(&mut bytes);
        let stem = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Self { stem, next: 0 }
    }
}

impl Ids {
    pub fn session(&self) -> String {
        format!("sess_{}", self.stem)
    }

    pub fn item(&mut self) -> String {
        self.next += 1;
        format!("item_{}{:06}", self.stem, self.next)
    }

    /// `event` with an `event_id` and its `type`.
    pub fn event(&mut self, kind: &str, mut event: Value) -> Value {
        self.next += 1;
        event["event_id"] = json!(format!("event_{}{:06}", self.stem, self.next));
        event["type"] = json!(kind);
        event
    }

    /// An `error` event in OpenAI's shape.
    pub fn error(&mut self, bad: &BadEvent) -> Value {
        self.event(
            "error",
            json!({
                "error": {
                    "type": "invalid_request_error",
                    "code": bad.code,
                    "message": bad.message,
                    "param": bad.param,
                    "event_id": bad.event_id,
                }
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_read_and_bad_ones_say_why() {
        assert!(matches!(
            parse(r#"{"type":"input_audio_buffer.append","audio":"AAEC"}"#),
            Ok(ClientEvent::Append(bytes)) if bytes == [0, 1, 2]
        ));
        assert!(matches!(
            parse(r#"{"type":"transcription_session.update","session":{}}"#),
            Ok(ClientEvent::Update {
                shape: Shape::Beta,
                ..
            })
        ));
        let cases = [
            ("{not json", "invalid_json"),
            (r#"{"event_id":"e1"}"#, "missing_type"),
            (r#"{"type":"response.create"}"#, "invalid_event"),
            (
                r#"{"type":"input_audio_buffer.append","audio":"%%%"}"#,
                "invalid_value",
            ),
            (
                r#"{"type":"input_audio_buffer.append"}"#,
                "missing_required_parameter",
            ),
            (
                r#"{"type":"session.update","session":3}"#,
                "missing_required_parameter",
            ),
        ];
        for (text, code) in cases {
            let bad = parse(text).expect_err(text);
            assert_eq!(bad.code, code, "{text}");
        }
        let bad = parse(r#"{"type":"nope","event_id":"e7"}"#).expect_err("unknown");
        assert_eq!(bad.event_id.as_deref(), Some("e7"));
    }

    #[test]
    fn ids_are_distinct_and_events_typed() {
        let mut ids = Ids::default();
        let a = ids.event("x", json!({}));
        let b = ids.event("x", json!({}));
        assert_ne!(a["event_id"], b["event_id"]);
        assert_eq!(a["type"], "x");
        assert!(ids.item().starts_with("item_"));
        let error = ids.error(&BadEvent::new("invalid_json", "no"));
        assert_eq!(error["error"]["type"], "invalid_request_error");
    }
}
