//! Long audio, one piece at a time: how the ready transcription engine is asked for a piece
//! ([`Asker`]), and the pieces' answers stitched into one transcript's lines ([`stitch`]).

use std::time::Duration;

use futures_util::StreamExt;

use super::Lines;
use crate::api_error::{ApiError, Code};
use crate::transcription::decode;
use crate::transcription::engine::{self, Options};
use crate::transcription::transcript::EngineLine;

/// How the ready engine is asked for one piece.
pub(super) struct Asker {
    pub(super) client: crate::http_client::HttpClient,
    pub(super) backend: std::sync::Arc<dyn crate::backend::Backend>,
    pub(super) upstream: crate::backend::Upstream,
    pub(super) route: engine::Route,
    pub(super) timeout: Duration,
}

impl Asker {
    pub(super) async fn ask(
        &self,
        decoded: &decode::Decoded,
        piece: std::ops::Range<usize>,
        options: &Options,
    ) -> Result<Lines, ApiError> {
        let samples = &decoded.samples[piece];
        let (upstream, route) = (&self.upstream, &self.route);
        match engine::transcribe(
            &self.client,
            upstream,
            route,
            samples,
            options,
            self.timeout,
        )
        .await
        {
            Err(e) if e.code == Code::EngineUnreachable => {
                self.backend.report_unreachable(upstream);
                Err(e)
            }
            other => other,
        }
    }
}

/// The pieces' lines as one transcript's: one `info` (the language the first piece was heard
/// in, which the later pieces are then told), the segments numbered on and moved to where
/// their piece begins, one `done`. Stops when the reader goes away.
pub(super) async fn stitch(
    asker: Asker,
    decoded: decode::Decoded,
    pieces: Vec<std::ops::Range<usize>>,
    mut options: Options,
    first: Lines,
    out: tokio::sync::mpsc::Sender<Result<EngineLine, engine::LineError>>,
) {
    let mut id = 0;
    let mut lines = first;
    for (n, piece) in pieces.iter().enumerate() {
        if n > 0 {
            tracing::debug!(
                piece = n + 1,
                of = pieces.len(),
                "transcribing the next piece"
            );
            lines = match asker.ask(&decoded, piece.clone(), &options).await {
                Ok(lines) => lines,
                Err(e) => {
                    let _ = out.send(Err(engine::LineError::Refused(e))).await;
                    return;
                }
            };
        }
        let offset = piece.start as f64 / f64::from(decode::RATE);
        let mut done = false;
        while let Some(line) = lines.next().await {
            let line = match line {
                Ok(EngineLine::Info {
                    language,
                    language_probability,
                    ..
                }) => {
                    if options.language.is_none() && !language.is_empty() {
                        options.language = Some(language.clone());
                    }
                    if n > 0 {
                        continue;
                    }
                    Ok(EngineLine::Info {
                        language,
                        language_probability,
                        duration: decoded.seconds,
                    })
                }
                Ok(EngineLine::Segment(mut segment)) => {
                    segment.id = id;
                    id += 1;
                    segment.start += offset;
                    segment.end += offset;
                    for word in &mut segment.words {
                        word.start += offset;
                        word.end += offset;
                    }
                    Ok(EngineLine::Segment(segment))
                }
                Ok(EngineLine::Done) => {
                    done = true;
                    break;
                }
                failed => failed,
            };
            let failed = !matches!(line, Ok(EngineLine::Info { .. } | EngineLine::Segment(_)));
            if out.send(line).await.is_err() || failed {
                return;
            }
        }
        if !done {
            return;
        }
    }
    let _ = out.send(Ok(EngineLine::Done)).await;
}
