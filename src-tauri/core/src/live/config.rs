//! A live session's configuration, as a client sets it in either of OpenAI's shapes: GA's
//! `session.update` (`session.audio.input.{format, transcription, turn_detection,
//! noise_reduction}`) or the beta's `transcription_session.update` (`input_audio_format`,
//! `input_audio_transcription`, `turn_detection`, `input_audio_noise_reduction`) — and how a
//! session describes itself back in the shape it was asked in.

use serde_json::{Value, json};

/// The audio a client appends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Format {
    /// 16-bit little-endian mono PCM at `rate` (OpenAI's is 24 kHz).
    Pcm { rate: u32 },
    /// G.711 μ-law, 8 kHz.
    Pcmu,
    /// G.711 A-law, 8 kHz.
    Pcma,
}

impl Format {
    /// The samples per second the client sends.
    pub fn rate(self) -> u32 {
        match self {
            Self::Pcm { rate } => rate,
            Self::Pcmu | Self::Pcma => 8_000,
        }
    }

    fn ga(self) -> Value {
        match self {
            Self::Pcm { rate } => json!({ "type": "audio/pcm", "rate": rate }),
            Self::Pcmu => json!({ "type": "audio/pcmu" }),
            Self::Pcma => json!({ "type": "audio/pcma" }),
        }
    }

    fn beta(self) -> &'static str {
        match self {
            Self::Pcm { .. } => "pcm16",
            Self::Pcmu => "g711_ulaw",
            Self::Pcma => "g711_alaw",
        }
    }
}

/// When a turn ends.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnDetection {
    /// `server_vad` or `semantic_vad` (served as `server_vad`, its eagerness a silence window).
    pub kind: &'static str,
    /// Voice probability above which a frame is speech (0–1).
    pub threshold: f32,
    /// Audio kept from before speech began.
    pub prefix_padding_ms: u32,
    /// Silence that ends a turn.
    pub silence_duration_ms: u32,
    /// `semantic_vad`'s, echoed back.
    pub eagerness: Option<String>,
}

impl Default for TurnDetection {
    fn default() -> Self {
        Self {
            kind: "server_vad",
            threshold: 0.5,
            prefix_padding_ms: 300,
            silence_duration_ms: 500,
            eagerness: None,
        }
    }
}

impl TurnDetection {
    fn describe(&self) -> Value {
        let mut value = json!({
            "type": self.kind,
            "threshold": self.threshold,
            "prefix_padding_ms": self.prefix_padding_ms,
            "silence_duration_ms": self.silence_duration_ms,
        });
        if let Some(eagerness) = &self.eagerness {
            value["eagerness"] = json!(eagerness);
        }
        value
    }
}

/// Everything a session can be set to.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionConfig {
    pub format: Format,
    /// The name the client asked for (any name means the configured model).
    pub model: String,
    pub language: Option<String>,
    pub prompt: Option<String>,
    /// Phrases to listen for.
    pub keywords: Vec<String>,
    /// `None`: the client commits each turn itself.
    pub turn_detection: Option<TurnDetection>,
    /// Accepted and echoed; Murmur does not filter noise.
    pub noise_reduction: Option<Value>,
    pub include: Vec<String>,
}

impl SessionConfig {
    /// A new session's: 24 kHz PCM, server VAD, the model the URL named.
    pub fn new(model: Option<String>) -> Self {
        Self {
            format: Format::Pcm { rate: 24_000 },
            model: model.unwrap_or_else(|| "gpt-realtime-whisper".into()),
            language: None,
            prompt: None,
            keywords: Vec::new(),
            turn_detection: Some(TurnDetection::default()),
            noise_reduction: None,
            include: Vec::new(),
        }
    }

    /// Apply a GA `session` object: fields it leaves out keep their values; refused, nothing
    /// changes.
    pub fn update_ga(&mut self, session: &Value) -> Result<(), Invalid> {
        let mut next = self.clone();
        next.apply_ga(session)?;
        *self = next;
        Ok(())
    }

    /// Apply a beta `transcription_session.update`'s `session`, as [`Self::update_ga`].
    pub fn update_beta(&mut self, session: &Value) -> Result<(), Invalid> {
        let mut next = self.clone();
        next.apply_beta(session)?;
        *self = next;
        Ok(())
    }

    fn apply_ga(&mut self, session: &Value) -> Result<(), Invalid> {
        if let Some(kind) = session.get("type").and_then(Value::as_str)
            && kind != "transcription"
        {
            return Err(Invalid::new(
                "session.type",
                format!("Murmur serves transcription sessions only, not {kind:?}"),
            ));
        }
        let input = &session["audio"]["input"];
        if let Some(format) = input.get("format") {
            self.format = ga_format(format)?;
        }
        if let Some(transcription) = input.get("transcription") {
            self.transcription(transcription, "session.audio.input.transcription")?;
        }
        if let Some(turn) = input.get("turn_detection") {
            self.turn_detection = turn_detection(turn, "session.audio.input.turn_detection")?;
        }
        if let Some(noise) = input.get("noise_reduction") {
            self.noise_reduction = Some(noise.clone()).filter(|n| !n.is_null());
        }
        self.include(session)
    }

    fn apply_beta(&mut self, session: &Value) -> Result<(), Invalid> {
        if let Some(format) = session.get("input_audio_format") {
            self.format = match format.as_str() {
                Some("pcm16") => Format::Pcm { rate: 24_000 },
                Some("g711_ulaw") => Format::Pcmu,
                Some("g711_alaw") => Format::Pcma,
                _ => {
                    return Err(Invalid::new(
                        "session.input_audio_format",
                        format!(
                            "the audio format {format} is not one of pcm16, g711_ulaw, g711_alaw"
                        ),
                    ));
                }
            };
        }
        if let Some(transcription) = session.get("input_audio_transcription") {
            self.transcription(transcription, "session.input_audio_transcription")?;
        }
        if let Some(turn) = session.get("turn_detection") {
            self.turn_detection = turn_detection(turn, "session.turn_detection")?;
        }
        if let Some(noise) = session.get("input_audio_noise_reduction") {
            self.noise_reduction = Some(noise.clone()).filter(|n| !n.is_null());
        }
        self.include(session)
    }

    fn transcription(&mut self, value: &Value, param: &str) -> Result<(), Invalid> {
        if value.is_null() {
            return Ok(());
        }
        if !value.is_object() {
            return Err(Invalid::new(param, "must be an object"));
        }
        if let Some(model) = value.get("model").and_then(Value::as_str) {
            self.model = model.into();
        }
        if let Some(language) = value.get("language") {
            self.language = match language.as_str().filter(|l| !l.is_empty()) {
                None => None,
                Some(language) => Some(
                    crate::transcription::form::check_language(language)
                        .map_err(|e| Invalid::new(&format!("{param}.language"), e.message()))?,
                ),
            };
        }
        if let Some(prompt) = value.get("prompt") {
            self.prompt = prompt
                .as_str()
                .filter(|p| !p.trim().is_empty())
                .map(String::from);
        }
        if let Some(keywords) = value.get("keywords") {
            self.keywords = strings(keywords, &format!("{param}.keywords"))?;
        }
        if let Some(languages) = value.get("languages") {
            let languages = strings(languages, &format!("{param}.languages"))?;
            // One language listed is the language; several leave it to detection.
            if let [only] = languages.as_slice() {
                self.language = Some(
                    crate::transcription::form::check_language(only)
                        .map_err(|e| Invalid::new(&format!("{param}.languages"), e.message()))?,
                );
            }
        }
        Ok(())
    }

    fn include(&mut self, session: &Value) -> Result<(), Invalid> {
        if let Some(include) = session.get("include") {
            self.include = if include.is_null() {
                Vec::new()
            } else {
                strings(include, "session.include")?
            };
        }
        Ok(())
    }

    /// The session as GA's `session.created`/`session.updated` carry it.
    pub fn describe_ga(&self, id: &str) -> Value {
        json!({
            "type": "transcription",
            "object": "realtime.transcription_session",
            "id": id,
            "audio": {
                "input": {
                    "format": self.format.ga(),
                    "transcription": self.describe_transcription(),
                    "turn_detection": self.turn_detection.as_ref().map(TurnDetection::describe),
                    "noise_reduction": self.noise_reduction,
                }
            },
            "include": self.include,
        })
    }

    /// The session as the beta's `transcription_session.created`/`.updated` carry it.
    pub fn describe_beta(&self, id: &str) -> Value {
        json!({
            "id": id,
            "object": "realtime.transcription_session",
            "input_audio_format": self.format.beta(),
            "input_audio_transcription": self.describe_transcription(),
            "turn_detection": self.turn_detection.as_ref().map(TurnDetection::describe),
            "input_audio_noise_reduction": self.noise_reduction,
            "include": self.include,
            "modalities": ["text"],
        })
    }

    fn describe_transcription(&self) -> Value {
        let mut value = json!({
            "model": self.model,
            "language": self.language,
            "prompt": self.prompt.clone().unwrap_or_default(),
        });
        if !self.keywords.is_empty() {
            value["keywords"] = json!(self.keywords);
        }
        value
    }
}

/// A session field Murmur cannot take: the `param` and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    pub param: String,
    pub message: String,
}

impl Invalid {
    fn new(param: &str, message: impl Into<String>) -> Self {
        Self {
            param: param.into(),
            message: format!("{param}: {}", message.into()),
        }
    }
}

fn ga_format(value: &Value) -> Result<Format, Invalid> {
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

fn turn_detection(value: &Value, param: &str) -> Result<Option<TurnDetection>, Invalid> {
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

fn strings(value: &Value, param: &str) -> Result<Vec<String>, Invalid> {
    value
        .as_array()
        .and_then(|a| {
            a.iter()
                .map(|v| v.as_str().map(String::from))
                .collect::<Option<Vec<_>>>()
        })
        .ok_or_else(|| Invalid::new(param, "must be a list of strings"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ga_update_sets_what_it_names_and_keeps_the_rest() {
        let mut config = SessionConfig::new(Some("gpt-realtime-whisper".into()));
        config
            .update_ga(&json!({
                "type": "transcription",
                "audio": {"input": {
                    "format": {"type": "audio/pcmu"},
                    "transcription": {"model": "gpt-4o-transcribe", "language": "en", "prompt": "Murmur"},
                    "turn_detection": {"type": "server_vad", "silence_duration_ms": 700},
                }},
            }))
            .expect("valid");
        assert_eq!(config.format, Format::Pcmu);
        assert_eq!(config.model, "gpt-4o-transcribe");
        assert_eq!(config.language.as_deref(), Some("en"));
        assert_eq!(config.prompt.as_deref(), Some("Murmur"));
        let turn = config.turn_detection.clone().expect("vad");
        assert_eq!(
            (turn.silence_duration_ms, turn.prefix_padding_ms),
            (700, 300)
        );
        config
            .update_ga(&json!({"audio": {"input": {"turn_detection": null}}}))
            .expect("valid");
        assert_eq!(config.turn_detection, None);
        assert_eq!(
            config.format,
            Format::Pcmu,
            "unnamed fields keep their values"
        );
    }

    #[test]
    fn beta_update_and_semantic_vad() {
        let mut config = SessionConfig::new(None);
        config
            .update_beta(&json!({
                "input_audio_format": "g711_alaw",
                "input_audio_transcription": {"model": "whisper-1"},
                "turn_detection": {"type": "semantic_vad", "eagerness": "low"},
            }))
            .expect("valid");
        assert_eq!(config.format, Format::Pcma);
        let turn = config.turn_detection.clone().expect("vad");
        assert_eq!(
            (turn.kind, turn.silence_duration_ms),
            ("semantic_vad", 1_500)
        );
        let described = config.describe_beta("sess_1");
        assert_eq!(described["input_audio_format"], "g711_alaw");
        assert_eq!(described["turn_detection"]["eagerness"], "low");
    }

    #[test]
    fn what_cannot_be_served_names_its_field() {
        let mut config = SessionConfig::new(None);
        let cases = [
            (json!({"type": "realtime"}), "session.type"),
            (
                json!({"audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}}}),
                "session.audio.input.format",
            ),
            (
                json!({"audio": {"input": {"turn_detection": {"threshold": 3}}}}),
                "session.audio.input.turn_detection.threshold",
            ),
            (
                json!({"audio": {"input": {"transcription": {"language": "klingon"}}}}),
                "session.audio.input.transcription.language",
            ),
        ];
        for (session, param) in cases {
            let before = config.clone();
            let error = config.update_ga(&session).expect_err("refused");
            assert_eq!(error.param, param, "{session}");
            assert_eq!(config, before, "a refused update changes nothing");
        }
    }
}
