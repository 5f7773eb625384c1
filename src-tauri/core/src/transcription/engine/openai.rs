//! OpenAI's route to an engine (MLX Audio, custom, external): the audio as a 16 kHz WAV in a
//! multipart form, `verbose_json` back, read into the same [`EngineLine`]s as Murmur's route.

use axum::body::Body;

use super::{Options, RequestError, extend_le};
use crate::backend::Upstream;
use crate::transcription::decode::RATE;
use crate::transcription::transcript::{EngineLine, Segment, Task, Word, language_code};

/// OpenAI's multipart form: the audio as a 16 kHz WAV with its real lengths, the options as
/// fields, `verbose_json` with segment (and, when asked, word) times.
pub(super) fn openai_request(
    upstream: &Upstream,
    samples: &[i16],
    options: &Options,
    model: Option<&str>,
) -> Result<http::Request<Body>, RequestError> {
    let path = match options.task {
        Some(Task::Translate) => "/v1/audio/translations",
        _ => "/v1/audio/transcriptions",
    };
    let boundary = format!("murmur-{:016x}", rand_u64());
    let mut fields: Vec<(&str, String)> = vec![("response_format", "verbose_json".into())];
    if let Some(model) = model {
        fields.push(("model", model.into()));
    }
    if let Some(language) = &options.language {
        fields.push(("language", language.clone()));
    }
    if let Some(prompt) = &options.prompt {
        fields.push(("prompt", prompt.clone()));
    }
    if let Some(temperature) = options.temperature {
        fields.push(("temperature", temperature.to_string()));
    }
    fields.push(("timestamp_granularities[]", "segment".into()));
    if options.words {
        fields.push(("timestamp_granularities[]", "word".into()));
    }
    let mut body = Vec::with_capacity(samples.len() * 2 + 1024);
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"audio.wav\"\r\nContent-Type: audio/wav\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(&wav_header(samples.len() * 2));
    extend_le(&mut body, samples);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    http::Request::post(format!("{}{path}", upstream.base_url()))
        .header(
            http::header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .map_err(RequestError::from)
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

/// The header of a 16 kHz mono s16le WAV of `data` bytes.
pub(super) fn wav_header(data: usize) -> [u8; 44] {
    let data = u32::try_from(data).unwrap_or(u32::MAX - 36);
    let mut header = [0u8; 44];
    let fields: [&[u8]; 13] = [
        b"RIFF",
        &(data + 36).to_le_bytes(),
        b"WAVE",
        b"fmt ",
        &16u32.to_le_bytes(),
        &1u16.to_le_bytes(),
        &1u16.to_le_bytes(),
        &RATE.to_le_bytes(),
        &(RATE * 2).to_le_bytes(),
        &2u16.to_le_bytes(),
        &16u16.to_le_bytes(),
        b"data",
        &data.to_le_bytes(),
    ];
    let mut at = 0;
    for field in fields {
        header[at..at + field.len()].copy_from_slice(field);
        at += field.len();
    }
    header
}

/// OpenAI's `verbose_json`, loosely: servers differ in what they fill in.
#[derive(Debug, serde::Deserialize)]
struct Verbose {
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    duration: Option<f64>,
    #[serde(default)]
    text: String,
    #[serde(default)]
    segments: Vec<VerboseSegment>,
    #[serde(default)]
    words: Vec<VerboseWord>,
}

/// A segment of it. Every number may be `null`: a Python server built on pydantic writes a
/// score that came out infinite or NaN (a log-probability of a token the model ruled out) as
/// `null`, and the transcript is still good.
#[derive(Debug, serde::Deserialize)]
struct VerboseSegment {
    #[serde(default)]
    start: Option<f64>,
    #[serde(default)]
    end: Option<f64>,
    text: String,
    #[serde(default, deserialize_with = "number_or_zero")]
    avg_logprob: f64,
    #[serde(default, deserialize_with = "number_or_zero")]
    no_speech_prob: f64,
    #[serde(default, deserialize_with = "number_or_zero")]
    compression_ratio: f64,
    #[serde(default, deserialize_with = "number_or_zero")]
    temperature: f64,
    #[serde(default)]
    words: Vec<VerboseWord>,
}

/// A word of it, its times possibly `null` too.
#[derive(Debug, serde::Deserialize)]
struct VerboseWord {
    word: String,
    #[serde(default)]
    start: Option<f64>,
    #[serde(default)]
    end: Option<f64>,
    #[serde(default)]
    probability: Option<f64>,
}

impl VerboseWord {
    /// The word as Murmur keeps it, or none when the engine gave it no times at all.
    fn timed(self) -> Option<Word> {
        let start = self.start.or(self.end)?;
        Some(Word {
            word: self.word,
            start,
            end: self.end.unwrap_or(start),
            probability: self.probability,
        })
    }
}

/// A number, with `null` read as zero.
fn number_or_zero<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(<Option<f64> as serde::Deserialize>::deserialize(d)?.unwrap_or(0.0))
}

/// A `verbose_json` answer as the lines Murmur's own engine would have sent: its language (as
/// a code), each segment with the words that fall in it, done. An answer with text but no
/// segments is one segment over the whole audio.
pub(super) fn verbose_lines(
    body: &[u8],
    options: &Options,
) -> Result<Vec<EngineLine>, serde_json::Error> {
    let verbose: Verbose = serde_json::from_slice(body)?;
    let language = verbose
        .language
        .as_deref()
        .or(options.language.as_deref())
        .map(language_code)
        .unwrap_or_default();
    let duration = verbose.duration.unwrap_or(0.0);
    let mut segments: Vec<Segment> = verbose
        .segments
        .into_iter()
        .zip(0..)
        .map(|(s, id)| Segment {
            id,
            seek: 0,
            start: s.start.unwrap_or(0.0),
            end: s.end.or(s.start).unwrap_or(duration),
            text: s.text,
            tokens: Vec::new(),
            temperature: s.temperature,
            avg_logprob: s.avg_logprob,
            compression_ratio: s.compression_ratio,
            no_speech_prob: s.no_speech_prob,
            words: s.words.into_iter().filter_map(VerboseWord::timed).collect(),
        })
        .collect();
    if segments.is_empty() && !verbose.text.trim().is_empty() {
        segments.push(Segment {
            id: 0,
            seek: 0,
            start: 0.0,
            end: duration,
            text: verbose.text,
            tokens: Vec::new(),
            temperature: 0.0,
            avg_logprob: 0.0,
            compression_ratio: 0.0,
            no_speech_prob: 0.0,
            words: Vec::new(),
        });
    }
    for word in verbose.words.into_iter().filter_map(VerboseWord::timed) {
        let middle = (word.start + word.end) / 2.0;
        let home = segments
            .iter()
            .rposition(|s| s.start <= middle)
            .unwrap_or(0);
        if let Some(segment) = segments.get_mut(home) {
            segment.words.push(word);
        }
    }
    let mut lines = vec![EngineLine::Info {
        language,
        language_probability: 0.0,
        duration,
    }];
    lines.extend(segments.into_iter().map(EngineLine::Segment));
    lines.push(EngineLine::Done);
    Ok(lines)
}
