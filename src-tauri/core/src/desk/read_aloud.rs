//! Read aloud: a text (the selection) prepared for the ear ([`super::readable`]), cut into
//! pieces the speech engine takes (`[proxy] max_input_chars`, at line and sentence ends), and
//! spoken piece after piece through the proxy's own speech path, as 24 kHz PCM chunks the
//! moment the engine hands them over.

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::api_error::ApiError;
use crate::audio::{Format, OUTPUT_RATE};
use crate::proxy::ProxyState;
use crate::speech_request::SpeechRequest;

/// The rate of the PCM [`speak`] sends.
pub const RATE: u32 = OUTPUT_RATE;

/// `text` in pieces of at most `max` characters, cut after a line, else after a sentence,
/// else after a word (a word longer than `max` is cut where it must).
pub fn pieces(text: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        if rest.chars().count() <= max {
            out.push(rest.to_string());
            break;
        }
        let limit = rest.char_indices().nth(max).map_or(rest.len(), |(i, _)| i);
        let window = &rest[..limit];
        let cut = window
            .rfind('\n')
            .or_else(|| {
                window
                    .rmatch_indices(['.', '!', '?', ';'])
                    .find(|(i, _)| window[i + 1..].starts_with(char::is_whitespace))
                    .map(|(i, _)| i + 1)
            })
            .or_else(|| window.rfind(char::is_whitespace))
            .filter(|&cut| cut > 0)
            .unwrap_or(limit);
        out.push(rest[..cut].trim().to_string());
        rest = rest[cut..].trim_start();
    }
    out.retain(|p| !p.is_empty());
    out
}

/// Speak `text` (already prepared) with the default voice and speed, sending its PCM to
/// `audio` as it comes. Ends early, without error, when `audio`'s receiver is gone (reading
/// was stopped).
pub async fn speak(
    state: &ProxyState,
    text: &str,
    audio: mpsc::Sender<Bytes>,
) -> Result<(), ApiError> {
    let max = usize::try_from(state.live().get().proxy.max_input_chars).unwrap_or(4096);
    for piece in pieces(text, max) {
        let mut request = SpeechRequest::new(piece);
        request.response_format = Some(Format::Pcm);
        let response = crate::proxy::synthesise(state, request).await?;
        let mut body = response.into_body().into_data_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                ApiError::murmur_unavailable(format!("the speech stopped halfway: {e}"))
            })?;
            if audio.send(chunk).await.is_err() {
                return Ok(());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::pieces;

    #[test]
    fn long_texts_are_cut_where_a_reader_would_pause() {
        assert_eq!(
            pieces("One line.\nTwo line here.", 20),
            ["One line.", "Two line here."]
        );
        assert_eq!(
            pieces("First sentence. Second sentence is longer.", 30),
            ["First sentence.", "Second sentence is longer."]
        );
        assert_eq!(
            pieces("no stops at all here", 10),
            ["no stops", "at all", "here"]
        );
        assert_eq!(pieces("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(pieces("  short  ", 100), ["short"]);
        assert!(pieces("", 10).is_empty());
        assert_eq!(pieces("v1.2 is out. Yes", 14), ["v1.2 is out.", "Yes"]);
        let long = "é".repeat(9000);
        assert!(
            pieces(&long, 4096)
                .iter()
                .all(|p| p.chars().count() <= 4096)
        );
    }
}
