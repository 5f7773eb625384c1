//! What the page's Test speech, Record and Transcribe a file send.

use super::*;

/// `POST /murmur/api/transcribe-test`: OpenAI's transcription form, as the page's Record and
/// Transcribe a file send it; the answer `/v1/audio/transcriptions` would give (with the
/// engine's time in `X-Murmur-Engine-Ms`), whatever `[proxy] api_key` says.
pub(super) async fn transcribe_test(
    State(control): State<Control>,
    mut request: Request,
) -> Response {
    request.headers_mut().remove(header::AUTHORIZATION);
    control.transcribe_test(request).await
}

/// `POST /murmur/api/speak-test` `{"text", "voice", "speed"}`: speech as the page plays it.
pub(super) async fn speak_test(
    State(control): State<Control>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let test: SpeakTest = if body.is_empty() {
        SpeakTest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_json(format!("not JSON: {e}")))?
    };
    control.speak_test(test).await
}
