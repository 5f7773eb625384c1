//! A live session's configuration, as a client sets it in either of OpenAI's shapes: GA's
//! `session.update` (`session.audio.input.{format, transcription, turn_detection,
//! noise_reduction}`) or the beta's `transcription_session.update` (`input_audio_format`,
//! `input_audio_transcription`, `turn_detection`, `input_audio_noise_reduction`) — and how a
//! session describes itself back in the shape it was asked in.

use serde_json::{Value, json};

mod fields;

use fields::{ga_format, strings, turn_detection};

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

#[cfg(test)]
mod tests;
