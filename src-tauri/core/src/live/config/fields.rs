//! The session fields that need more than a copy: the GA audio format, turn detection (and
//! semantic VAD's eagerness as a silence window), lists of strings.

use serde_json::Value;

use super::{Format, Invalid, TurnDetection};

pub(super) fn ga_format(value: &Value) -> Result<Format, Invalid> {
    let param = "session.audio.input.format";
    match value["type"].as_str() {
        Some("audio/pcm") => {
            let rate = value.get("rate").map_or(Some(24_000), Value::as_u64);
            match rate {
                Some(24_000) => Ok(Format::Pcm { rate: 24_000 }),
                _ => Err(Invalid::new(
                    param,
                    format!(
                        "audio/pcm is 24000 Hz (OpenAI's only rate), not {}",
                        value["rate"]
                    ),
                )),
            }
        }
        Some("audio/pcmu") => Ok(Format::Pcmu),
        Some("audio/pcma") => Ok(Format::Pcma),
        _ => Err(Invalid::new(
            param,
            format!("the audio format {value} is not one of audio/pcm, audio/pcmu, audio/pcma"),
        )),
    }
}

pub(super) fn turn_detection(value: &Value, param: &str) -> Result<Option<TurnDetection>, Invalid> {
    if value.is_null() {
        return Ok(None);
    }
    let mut turn = TurnDetection::default();
    match value.get("type").and_then(Value::as_str) {
        None | Some("server_vad") => {}
        Some("semantic_vad") => {
            let eagerness = value["eagerness"].as_str().unwrap_or("auto");
            turn.kind = "semantic_vad";
            // Semantic VAD waits for a sentence to sound finished; here it is the silence
            // window: the less eager, the longer people may pause.
            turn.silence_duration_ms = match eagerness {
                "low" => 1_500,
                "high" => 350,
                "medium" | "auto" => 800,
                other => {
                    return Err(Invalid::new(
                        &format!("{param}.eagerness"),
                        format!("{other:?} is not one of low, medium, high, auto"),
                    ));
                }
            };
            turn.eagerness = Some(eagerness.into());
            return Ok(Some(turn));
        }
        Some(other) => {
            return Err(Invalid::new(
                &format!("{param}.type"),
                format!("{other:?} is not one of server_vad, semantic_vad"),
            ));
        }
    }
    if let Some(threshold) = value.get("threshold").filter(|v| !v.is_null()) {
        match threshold.as_f64() {
            Some(t) if (0.0..=1.0).contains(&t) => turn.threshold = t as f32,
            _ => {
                return Err(Invalid::new(
                    &format!("{param}.threshold"),
                    "must be a number from 0 to 1",
                ));
            }
        }
    }
    for (name, field, most) in [
        ("prefix_padding_ms", &mut turn.prefix_padding_ms, 5_000),
        ("silence_duration_ms", &mut turn.silence_duration_ms, 10_000),
    ] {
        if let Some(ms) = value.get(name).filter(|v| !v.is_null()) {
            match ms.as_u64() {
                Some(ms) if ms <= most => *field = ms as u32,
                _ => {
                    return Err(Invalid::new(
                        &format!("{param}.{name}"),
                        format!("must be a whole number of milliseconds up to {most}"),
                    ));
                }
            }
        }
    }
    Ok(Some(turn))
}

pub(super) fn strings(value: &Value, param: &str) -> Result<Vec<String>, Invalid> {
    value
        .as_array()
        .and_then(|a| {
            a.iter()
                .map(|v| v.as_str().map(String::from))
                .collect::<Option<Vec<_>>>()
        })
        .ok_or_else(|| Invalid::new(param, "must be a list of strings"))
}
