//! Transcription over Wyoming: the utterance transcribed when `audio-stop` comes, and, when
//! the engine streams (Murmur's Whisper), words while it still arrives — the live core's
//! partial decodes ([`crate::live::Words`]) sent as `transcript-start`, `transcript-chunk`s,
//! then the whole `transcript` and `transcript-stop` (the chunks concatenate to its text).

use tokio::sync::mpsc;

use super::audio::Utterance;
use super::message::Outgoing;
use super::session::{Doing, Out, Session, SessionError};
use crate::api_error::ApiError;
use crate::transcription::engine::Options;

/// A partial decode's answer.
pub(super) struct Partial {
    /// Which utterance of the session it decoded (a later one ignores it).
    utterance: u64,
    covered: usize,
    result: Result<String, ApiError>,
}

/// A session's streaming state.
pub(super) struct Streaming {
    pub(super) answers: (mpsc::Sender<Partial>, mpsc::Receiver<Partial>),
    /// Utterances begun in this session.
    utterance: u64,
    /// Whether the engine continues after a prefix (checked when an utterance begins).
    streams: bool,
    running: bool,
    /// `transcript-start` was sent for this utterance.
    told_start: bool,
}

impl Default for Streaming {
    fn default() -> Self {
        Self {
            answers: mpsc::channel(2),
            utterance: 0,
            streams: false,
            running: false,
            told_start: false,
        }
    }
}

impl Streaming {
    /// An utterance begins.
    pub(super) fn begin(&mut self, state: &crate::proxy::ProxyState) {
        self.utterance += 1;
        self.streams = crate::live::engine_streams(state);
        self.told_start = false;
    }
}

impl Session {
    /// Decode the utterance so far, when it has grown enough and no decode of it runs.
    pub(super) fn maybe_partial(&mut self) {
        let Doing::Hearing {
            language,
            audio,
            words,
        } = &self.doing
        else {
            return;
        };
        let streaming = &mut self.streaming;
        let samples = audio.samples();
        if !streaming.streams || streaming.running || !words.due(samples.len()) {
            return;
        }
        streaming.running = true;
        let options = Options {
            language: language.clone(),
            prefix: words.prefix(),
            ..Options::default()
        };
        let (state, sender) = (self.state.clone(), streaming.answers.0.clone());
        let (utterance, samples) = (streaming.utterance, samples.to_vec());
        tokio::spawn(async move {
            let covered = samples.len();
            let result = crate::live::decode(&state, samples, options, "wyoming partial").await;
            let _ = sender
                .send(Partial {
                    utterance,
                    covered,
                    result,
                })
                .await;
        });
    }

    /// A partial decode came back: the words two decodes agree on, as a chunk.
    pub(super) async fn partial_answered(
        &mut self,
        partial: Partial,
        out: Out<'_>,
    ) -> Result<(), SessionError> {
        if partial.utterance != self.streaming.utterance {
            return Ok(());
        }
        self.streaming.running = false;
        let chunk = match (&mut self.doing, partial.result) {
            (Doing::Hearing { words, .. }, Ok(text)) => words.partial(partial.covered, &text),
            _ => None,
        };
        if let Some(text) = chunk {
            self.chunk(text, out).await?;
        }
        self.maybe_partial();
        Ok(())
    }

    async fn chunk(&mut self, text: String, out: Out<'_>) -> Result<(), SessionError> {
        if !self.streaming.told_start {
            self.streaming.told_start = true;
            self.send(out, Outgoing::TranscriptStart { language: None })
                .await?;
        }
        self.send(out, Outgoing::TranscriptChunk { text }).await?;
        Ok(())
    }

    /// The whole utterance, decoded from its rate, width and channels, transcribed (after the
    /// words already sent, when it streams).
    pub(super) async fn transcribe(
        &mut self,
        audio: Utterance,
        language: Option<String>,
        words: crate::live::Words,
        out: Out<'_>,
    ) -> Result<(), SessionError> {
        let request = self.request("wyoming transcribe");
        let bytes = audio.received();
        // A partial decode still running is of this utterance: its answer is no longer wanted.
        self.streaming.utterance += 1;
        self.streaming.running = false;
        let decoded = match audio.finish() {
            Ok(decoded) => decoded,
            Err(e) => {
                let e = crate::proxy::decode_error(e);
                request.finished(e.status.as_u16(), None, bytes, None);
                return self.error(out, e.message(), e.code.as_str()).await;
            }
        };
        let seconds = decoded.seconds;
        tracing::info!(peer = %self.peer, seconds, "wyoming: transcribe");
        let transcribed = Some(crate::metrics::TranscribedAudio {
            audio_secs: seconds,
            audio_format: "pcm",
        });
        let streams = self.streaming.streams;
        let options = Options {
            task: Some(crate::transcription::transcript::Task::Transcribe),
            language,
            prefix: words.prefix(),
            ..Options::default()
        };
        match crate::proxy::transcribe_with(&self.state, decoded, options).await {
            Ok(transcript) => {
                let language = Some(transcript.language.clone()).filter(|l| !l.is_empty());
                let (last, text) = words.finish(&transcript.text());
                if streams {
                    if let Some(last) = last {
                        self.chunk(last, out).await?;
                    } else if !self.streaming.told_start {
                        self.send(out, Outgoing::TranscriptStart { language: None })
                            .await?;
                    }
                }
                self.send(out, Outgoing::Transcript { text, language })
                    .await?;
                if streams {
                    self.send(out, Outgoing::TranscriptStop).await?;
                }
                request.finished(200, None, bytes, transcribed);
                Ok(())
            }
            Err(e) => {
                request.finished(e.status.as_u16(), None, bytes, transcribed);
                self.error(out, e.message(), e.code.as_str()).await
            }
        }
    }
}
