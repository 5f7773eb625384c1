//! OpenAI's transcription request: a `multipart/form-data` body, read whole first (with or
//! without a Content-Length: Open WebUI streams it chunked), then parsed into a
//! [`TranscriptionRequest`].

use bytes::Bytes;

use super::transcript::{Task, TextFormat};
use crate::api_error::{ApiError, Code};

/// What a client asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscriptionRequest {
    pub file: Bytes,
    /// The file name the client gave (only for logs: the format comes from the bytes).
    pub file_name: Option<String>,
    pub model: Option<String>,
    pub language: Option<String>,
    pub prompt: Option<String>,
    pub format: TextFormat,
    pub temperature: Option<f64>,
    /// `timestamp_granularities[]` holds `word`.
    pub words: bool,
    /// `stream=true`: server-sent events.
    pub stream: bool,
    pub task: Task,
}

/// The longest text field a client may send (a prompt is a few hundred tokens).
const MAX_FIELD: usize = 16 * 1024;

/// Parse `body`, sent with `content_type`, as a `task` request.
pub async fn parse(
    content_type: Option<&str>,
    body: Bytes,
    task: Task,
) -> Result<TranscriptionRequest, ApiError> {
    let content_type = content_type.unwrap_or_default();
    let boundary = multer::parse_boundary(content_type).map_err(|_| {
        ApiError::bad_request(
            Code::InvalidContentType,
            format!(
                "send the audio as multipart/form-data with a `file` field (got Content-Type {content_type:?})"
            ),
        )
    })?;
    let stream = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut file = None;
    let mut file_name = None;
    let mut text = Vec::new();
    let malformed = |e: multer::Error| {
        ApiError::bad_request(
            Code::InvalidMultipart,
            format!("the multipart body cannot be read: {e}"),
        )
    };
    while let Some(field) = multipart.next_field().await.map_err(malformed)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            file_name = field.file_name().map(String::from);
            file = Some(field.bytes().await.map_err(malformed)?);
            continue;
        }
        let value = field.bytes().await.map_err(malformed)?;
        if value.len() > MAX_FIELD {
            return Err(ApiError::bad_request(
                Code::FieldTooLong,
                format!("the field `{name}` is longer than {MAX_FIELD} bytes"),
            ));
        }
        let value = String::from_utf8(value.to_vec()).map_err(|_| {
            ApiError::bad_request(
                Code::InvalidMultipart,
                format!("the field `{name}` is not UTF-8"),
            )
        })?;
        text.push((name, value));
    }
    let Some(file) = file else {
        return Err(ApiError::invalid(
            "file",
            Code::MissingFile,
            "the request has no `file` field with the audio",
        ));
    };
    let last = |key: &str| {
        text.iter()
            .rev()
            .find(|(name, _)| name == key)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let format = match last("response_format") {
        None => TextFormat::Json,
        Some(name) => TextFormat::from_name(&name).ok_or_else(|| {
            ApiError::invalid(
                "response_format",
                Code::InvalidResponseFormat,
                format!(
                    "`response_format` {name:?} is not one of {}",
                    TextFormat::NAMES
                ),
            )
        })?,
    };
    let temperature = match last("temperature") {
        None => None,
        Some(t) => Some(
            t.parse::<f64>()
                .ok()
                .filter(|t| (0.0..=1.0).contains(t))
                .ok_or_else(|| {
                    ApiError::invalid(
                        "temperature",
                        Code::InvalidTemperature,
                        format!("`temperature` {t:?} is not a number from 0 to 1"),
                    )
                })?,
        ),
    };
    let stream = match last("stream").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "stream",
                Code::InvalidStream,
                format!("`stream` {other:?} is not true or false"),
            ));
        }
    };
    let words = text.iter().any(|(name, value)| {
        (name == "timestamp_granularities[]" || name == "timestamp_granularities")
            && value.split(',').any(|v| v.trim() == "word")
    });
    let language = match last("language") {
        Some(language) if task == Task::Translate => {
            tracing::debug!("translation ignores `language` {language:?}: it is detected");
            None
        }
        Some(language) => Some(check_language(&language)?),
        None => None,
    };
    Ok(TranscriptionRequest {
        file,
        file_name,
        model: last("model"),
        language,
        prompt: last("prompt"),
        format,
        temperature,
        words,
        stream,
        task,
    })
}

/// An ISO-639-1 code (`en`), lower-cased; `en-US` is taken as `en`.
pub fn check_language(language: &str) -> Result<String, ApiError> {
    let code = language
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if (2..=3).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_lowercase()) {
        Ok(code)
    } else {
        Err(ApiError::invalid(
            "language",
            Code::InvalidLanguage,
            format!("`language` {language:?} is not a language code such as en, de or ja"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(parts: &[(&str, &[u8])]) -> (String, Bytes) {
        let boundary = "XyZ123";
        let mut out = Vec::new();
        for (name, value) in parts {
            out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            if *name == "file" {
                out.extend_from_slice(
                    b"Content-Disposition: form-data; name=\"file\"; filename=\"a.webm\"\r\nContent-Type: application/octet-stream\r\n\r\n",
                );
            } else {
                out.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                );
            }
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        (
            format!("multipart/form-data; boundary={boundary}"),
            Bytes::from(out),
        )
    }

    #[tokio::test]
    async fn a_full_request_is_read() {
        let (ct, b) = body(&[
            ("model", b"whisper-1"),
            ("language", b"en-US"),
            ("response_format", b"verbose_json"),
            ("timestamp_granularities[]", b"segment"),
            ("timestamp_granularities[]", b"word"),
            ("temperature", b"0.2"),
            ("stream", b"true"),
            ("file", b"RIFF...."),
        ]);
        let r = parse(Some(&ct), b, Task::Transcribe).await.expect("parsed");
        assert_eq!(r.file.as_ref(), b"RIFF....");
        assert_eq!(r.file_name.as_deref(), Some("a.webm"));
        assert_eq!(r.model.as_deref(), Some("whisper-1"));
        assert_eq!(r.language.as_deref(), Some("en"));
        assert_eq!(r.format, TextFormat::VerboseJson);
        assert_eq!(r.temperature, Some(0.2));
        assert!(r.words && r.stream);
    }

    #[tokio::test]
    async fn mistakes_name_the_field() {
        type Parts<'a> = &'a [(&'a str, &'a [u8])];
        let cases: [(Parts, &str); 4] = [
            (&[("model", b"whisper-1")], "missing_file"),
            (
                &[("file", b"x"), ("response_format", b"mp3")],
                "invalid_response_format",
            ),
            (
                &[("file", b"x"), ("temperature", b"hot")],
                "invalid_temperature",
            ),
            (
                &[("file", b"x"), ("language", b"English!")],
                "invalid_language",
            ),
        ];
        for (parts, code) in cases {
            let (ct, b) = body(parts);
            let err = parse(Some(&ct), b, Task::Transcribe).await.expect_err(code);
            assert_eq!(err.code.as_str(), code);
            assert_eq!(err.status, http::StatusCode::BAD_REQUEST);
        }
        let err = parse(
            Some("application/json"),
            Bytes::from_static(b"{}"),
            Task::Transcribe,
        )
        .await
        .expect_err("not multipart");
        assert_eq!(err.code, Code::InvalidContentType);
        let err = parse(
            Some("multipart/form-data; boundary=abc"),
            Bytes::from_static(
                b"--abc\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nno end",
            ),
            Task::Transcribe,
        )
        .await
        .expect_err("cut short");
        assert_eq!(err.code, Code::InvalidMultipart);
    }
}
