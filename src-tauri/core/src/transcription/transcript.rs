//! What a transcription engine says (segments with times) and how Murmur writes it for the
//! client: OpenAI's `json`, `text`, `srt`, `vtt` and `verbose_json`.

use serde::{Deserialize, Serialize};

/// One word with its times, when word timestamps were asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Word {
    pub word: String,
    pub start: f64,
    pub end: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
}

/// One segment as the engine decided it (OpenAI's `verbose_json` segment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub id: u32,
    #[serde(default)]
    pub seek: u32,
    pub start: f64,
    pub end: f64,
    pub text: String,
    #[serde(default)]
    pub tokens: Vec<u32>,
    #[serde(default)]
    pub temperature: f64,
    #[serde(default)]
    pub avg_logprob: f64,
    #[serde(default)]
    pub compression_ratio: f64,
    #[serde(default)]
    pub no_speech_prob: f64,
    #[serde(default, skip_serializing)]
    pub words: Vec<Word>,
}

/// One line of the engine's NDJSON answer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EngineLine {
    Info {
        language: String,
        #[serde(default)]
        language_probability: f64,
        duration: f64,
    },
    Segment(Segment),
    Done,
    Error {
        message: String,
    },
}

/// OpenAI's `response_format` for transcriptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFormat {
    Json,
    Text,
    Srt,
    Vtt,
    VerboseJson,
}

impl TextFormat {
    pub const NAMES: &'static str = "json, text, srt, verbose_json or vtt";

    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "json" => Self::Json,
            "text" => Self::Text,
            "srt" => Self::Srt,
            "vtt" => Self::Vtt,
            "verbose_json" => Self::VerboseJson,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Text => "text",
            Self::Srt => "srt",
            Self::Vtt => "vtt",
            Self::VerboseJson => "verbose_json",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json | Self::VerboseJson => "application/json",
            Self::Text | Self::Srt => "text/plain; charset=utf-8",
            Self::Vtt => "text/vtt; charset=utf-8",
        }
    }
}

/// Transcribe (in the spoken language) or translate (to English).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    Transcribe,
    Translate,
}

impl Task {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Transcribe => "transcribe",
            Self::Translate => "translate",
        }
    }
}

/// A whole transcript.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Transcript {
    pub language: String,
    pub duration: f64,
    pub segments: Vec<Segment>,
}

impl Transcript {
    /// Add a segment, its times (and its words') kept within the audio: Whisper predicts
    /// times in its own steps and may place an end past the last sample, which would put a
    /// subtitle cue after the end of the file.
    pub fn push(&mut self, mut segment: Segment) {
        let within = |t: f64| t.clamp(0.0, self.duration);
        segment.start = within(segment.start);
        segment.end = within(segment.end).max(segment.start);
        for word in &mut segment.words {
            word.start = within(word.start);
            word.end = within(word.end).max(word.start);
        }
        self.segments.push(segment);
    }

    /// The segments' text joined, as OpenAI's `text` field has it.
    pub fn text(&self) -> String {
        self.segments
            .iter()
            .map(|s| s.text.trim())
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The body for `format`; `words` adds the words to `verbose_json`.
    pub fn render(&self, format: TextFormat, task: Task, words: bool) -> String {
        match format {
            TextFormat::Json => serde_json::json!({ "text": self.text() }).to_string(),
            TextFormat::Text => {
                let mut text = self.text();
                text.push('\n');
                text
            }
            TextFormat::Srt => self.cues(CueStyle::Srt),
            TextFormat::Vtt => self.cues(CueStyle::Vtt),
            TextFormat::VerboseJson => {
                let mut body = serde_json::json!({
                    "task": task.as_str(),
                    "language": language_name(&self.language),
                    "duration": self.duration,
                    "text": self.text(),
                    "segments": self.segments,
                });
                if words {
                    let words: Vec<&Word> =
                        self.segments.iter().flat_map(|s| s.words.iter()).collect();
                    body["words"] = serde_json::to_value(words).unwrap_or_default();
                }
                body.to_string()
            }
        }
    }

    fn cues(&self, style: CueStyle) -> String {
        let mut out = String::new();
        if style == CueStyle::Vtt {
            out.push_str("WEBVTT\n\n");
        }
        let spoken = self.segments.iter().filter(|s| !s.text.trim().is_empty());
        for (n, segment) in spoken.enumerate() {
            if style == CueStyle::Srt {
                out.push_str(&format!("{}\n", n + 1));
            }
            out.push_str(&format!(
                "{} --> {}\n{}\n\n",
                timestamp(segment.start, style),
                timestamp(segment.end.max(segment.start), style),
                segment.text.trim()
            ));
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CueStyle {
    Srt,
    Vtt,
}

/// `00:01:02,345` (SRT) or `00:01:02.345` (WebVTT).
fn timestamp(seconds: f64, style: CueStyle) -> String {
    let millis = (seconds.max(0.0) * 1000.0).round() as u64;
    let (h, m, s, ms) = (
        millis / 3_600_000,
        millis / 60_000 % 60,
        millis / 1000 % 60,
        millis % 1000,
    );
    let sep = if style == CueStyle::Srt { ',' } else { '.' };
    format!("{h:02}:{m:02}:{s:02}{sep}{ms:03}")
}

/// OpenAI's `verbose_json` names the language in English words ("english"); Whisper's codes
/// for the common ones are mapped, others pass as the code.
pub fn language_name(code: &str) -> String {
    LANGUAGE_NAMES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or_else(|| code.to_string(), |(_, name)| (*name).to_string())
}

/// The code of a language an OpenAI-compatible server named in words ("english" → "en");
/// a code, or a name not known here, passes as it is.
pub fn language_code(name: &str) -> String {
    let name = name.trim().to_ascii_lowercase();
    LANGUAGE_NAMES
        .iter()
        .find(|(_, n)| *n == name)
        .map_or(name.clone(), |(code, _)| (*code).to_string())
}

const LANGUAGE_NAMES: [(&str, &str); 24] = [
    ("en", "english"),
    ("de", "german"),
    ("fr", "french"),
    ("es", "spanish"),
    ("it", "italian"),
    ("pt", "portuguese"),
    ("nl", "dutch"),
    ("ru", "russian"),
    ("uk", "ukrainian"),
    ("pl", "polish"),
    ("cs", "czech"),
    ("sv", "swedish"),
    ("da", "danish"),
    ("no", "norwegian"),
    ("fi", "finnish"),
    ("tr", "turkish"),
    ("ar", "arabic"),
    ("he", "hebrew"),
    ("hi", "hindi"),
    ("ja", "japanese"),
    ("zh", "chinese"),
    ("ko", "korean"),
    ("vi", "vietnamese"),
    ("id", "indonesian"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(id: u32, start: f64, end: f64, text: &str) -> Segment {
        Segment {
            id,
            seek: 0,
            start,
            end,
            text: text.into(),
            tokens: Vec::new(),
            temperature: 0.0,
            avg_logprob: -0.2,
            compression_ratio: 1.2,
            no_speech_prob: 0.01,
            words: vec![Word {
                word: text.trim().into(),
                start,
                end,
                probability: Some(0.9),
            }],
        }
    }

    fn transcript() -> Transcript {
        Transcript {
            language: "en".into(),
            duration: 3725.5,
            segments: vec![
                segment(0, 0.0, 1.5, " Hello there."),
                segment(1, 3661.25, 3662.0, " Goodbye."),
            ],
        }
    }

    #[test]
    fn cues_count_hours_minutes_seconds_and_milliseconds() {
        let srt = transcript().render(TextFormat::Srt, Task::Transcribe, false);
        assert_eq!(
            srt,
            "1\n00:00:00,000 --> 00:00:01,500\nHello there.\n\n2\n01:01:01,250 --> 01:01:02,000\nGoodbye.\n\n"
        );
        let vtt = transcript().render(TextFormat::Vtt, Task::Transcribe, false);
        assert!(vtt.starts_with("WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello there.\n"));
    }

    #[test]
    fn verbose_json_has_words_only_when_asked() {
        let t = transcript();
        let plain: serde_json::Value =
            serde_json::from_str(&t.render(TextFormat::VerboseJson, Task::Translate, false))
                .expect("json");
        assert_eq!(plain["task"], "translate");
        assert_eq!(plain["language"], "english");
        assert_eq!(plain["text"], "Hello there. Goodbye.");
        assert_eq!(plain["segments"][1]["start"], 3661.25);
        assert!(plain.get("words").is_none());
        assert!(plain["segments"][0].get("words").is_none());
        let with: serde_json::Value =
            serde_json::from_str(&t.render(TextFormat::VerboseJson, Task::Transcribe, true))
                .expect("json");
        assert_eq!(with["words"][1]["word"], "Goodbye.");
    }

    #[test]
    fn silence_is_empty_text_in_every_format() {
        let t = Transcript::default();
        assert_eq!(
            t.render(TextFormat::Json, Task::Transcribe, false),
            r#"{"text":""}"#
        );
        assert_eq!(t.render(TextFormat::Text, Task::Transcribe, false), "\n");
        assert_eq!(t.render(TextFormat::Srt, Task::Transcribe, false), "");
        assert_eq!(
            t.render(TextFormat::Vtt, Task::Transcribe, false),
            "WEBVTT\n\n"
        );
    }

    #[test]
    fn times_past_the_end_of_the_audio_are_brought_back_within_it() {
        let mut t = Transcript {
            duration: 13.4,
            ..Transcript::default()
        };
        t.push(segment(0, 11.0, 14.0, " Last words."));
        assert_eq!((t.segments[0].start, t.segments[0].end), (11.0, 13.4));
        assert_eq!(t.segments[0].words[0].end, 13.4);
    }

    #[test]
    fn engine_lines_parse() {
        let info: EngineLine = serde_json::from_str(
            r#"{"type":"info","language":"ja","language_probability":0.9,"duration":4.5}"#,
        )
        .expect("info");
        assert!(matches!(info, EngineLine::Info { ref language, .. } if language == "ja"));
        let seg: EngineLine = serde_json::from_str(
            r#"{"type":"segment","id":0,"start":0.0,"end":1.0,"text":" hi","words":[{"word":" hi","start":0.1,"end":0.5,"probability":0.8}]}"#,
        )
        .expect("segment");
        assert!(matches!(seg, EngineLine::Segment(ref s) if s.words.len() == 1));
        let done: EngineLine = serde_json::from_str(r#"{"type":"done"}"#).expect("done");
        assert_eq!(done, EngineLine::Done);
    }
}
