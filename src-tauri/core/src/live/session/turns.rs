//! A session's turns transcribed: the final decode of each committed turn, in order; partial
//! decodes of the turn being spoken while nothing else waits; and, once its speech pauses, its
//! final decode begun early ([`Early`]). Their answers become deltas ([`Words`]) and completed
//! (or failed) transcripts.

use std::time::Instant;

use serde_json::json;

use super::super::protocol::BadEvent;
use super::super::vad::Vad;
use super::super::words::{self, Words};
use super::{
    Answer, Early, Ended, Kind, LEAST_COMMIT, MAX_WAITING, RATE, Session, Turn, Waiting, padding,
    vad_padding_ms,
};
use crate::transcription::engine::Options;

/// Silence after which no partial decode starts.
const QUIET_MS: u64 = 60;
/// Silence after which the turn's final decode begins, early.
const EARLY_MS: u64 = 100;

impl Session {
    pub(super) async fn speech_started(&mut self, start_ms: u64) -> Result<(), Ended> {
        let padded = (start_ms * u64::from(RATE) / 1000)
            .saturating_sub(padding(vad_padding_ms(&self.config)) as u64)
            .max(self.buffer_at);
        let drop = usize::try_from(padded - self.buffer_at).unwrap_or(0);
        self.buffer.drain(..drop.min(self.buffer.len()));
        self.buffer_at = padded;
        let item_id = self.ids.item();
        self.early = None;
        self.turn = Some(Turn {
            item_id: item_id.clone(),
            words: Words::default(),
            began: Instant::now(),
            first_sent: false,
        });
        let audio_start_ms = padded * 1000 / u64::from(RATE);
        self.send(
            "input_audio_buffer.speech_started",
            json!({ "audio_start_ms": audio_start_ms, "item_id": item_id }),
        )
        .await
    }

    pub(super) async fn speech_stopped(&mut self, end_ms: u64) -> Result<(), Ended> {
        let Some(turn) = &self.turn else {
            return Ok(());
        };
        let item_id = turn.item_id.clone();
        self.send(
            "input_audio_buffer.speech_stopped",
            json!({ "audio_end_ms": end_ms, "item_id": item_id }),
        )
        .await?;
        self.commit().await
    }

    /// A turn as long as Whisper hears is committed; the speech goes on in a new one.
    pub(super) async fn cut_long_turn(&mut self) -> Result<(), Ended> {
        self.commit().await
    }

    /// End the turn: the buffer becomes an item, committed, and waits for its transcript.
    pub(super) async fn commit(&mut self) -> Result<(), Ended> {
        if self.buffer.len() < LEAST_COMMIT {
            self.turn = None;
            let bad = BadEvent::new(
                "input_audio_buffer_commit_empty",
                format!(
                    "buffer too small: expected at least 100 ms of audio, but the buffer holds {} ms",
                    self.buffer.len() * 1000 / RATE as usize
                ),
            );
            return self.refuse(&bad).await;
        }
        if self.waiting.len() >= MAX_WAITING {
            let bad = BadEvent::new(
                "too_many_turns",
                format!("{MAX_WAITING} turns are already waiting for their transcripts"),
            );
            return self.refuse(&bad).await;
        }
        let turn = self.turn.take().unwrap_or_else(|| Turn {
            item_id: self.ids.item(),
            words: Words::default(),
            began: Instant::now(),
            first_sent: false,
        });
        let samples = std::mem::take(&mut self.buffer);
        self.buffer_at += samples.len() as u64;
        // A commit while the VAD hears speech (the client's, or a long turn cut) ends the
        // turn: speech that goes on begins the next.
        if let Some(vad) = &mut self.vad {
            vad.reset();
        }
        let previous = self.previous_item.replace(turn.item_id.clone());
        self.send(
            "input_audio_buffer.committed",
            json!({ "previous_item_id": previous, "item_id": turn.item_id }),
        )
        .await?;
        let holds = self.early_holds();
        let early = self
            .early
            .take()
            .filter(|e| holds && e.item_id == turn.item_id);
        self.waiting.push_back(Waiting {
            item_id: turn.item_id,
            words: turn.words,
            samples,
            began: turn.began,
            first_sent: turn.first_sent,
            early,
        });
        self.next_final().await
    }

    /// Start the next committed turn's final decode, if none is running — or finish it at
    /// once when its early decode already answered.
    pub(super) async fn next_final(&mut self) -> Result<(), Ended> {
        while self.finishing.is_none() {
            let Some(mut waiting) = self.waiting.pop_front() else {
                return Ok(());
            };
            match waiting.early.as_mut().map(|e| e.result.take()) {
                Some(Some(result)) => self.complete(waiting, result).await?,
                // Its early decode is running: its answer will finish it.
                Some(None) => self.finishing = Some(waiting),
                None => {
                    let prefix = waiting.words.prefix();
                    let item_id = waiting.item_id.clone();
                    self.decode(item_id, waiting.samples.clone(), prefix, Kind::Final);
                    self.finishing = Some(waiting);
                }
            }
        }
        Ok(())
    }

    /// Voice after the speaking turn's pause: its early decode no longer covers it.
    pub(super) fn voice_resumed(&mut self) {
        if !self.early_holds() {
            self.early = None;
        }
    }

    /// Whether the early decode (if any) still covers the turn: no voice since it began.
    fn early_holds(&self) -> bool {
        let voice = self.vad.as_ref().map(Vad::last_voice);
        self.early.as_ref().is_none_or(|e| voice == Some(e.voice))
    }

    /// Start the speaking turn's next decode, if the engine is free of this session's other
    /// work: a partial one while it is spoken (after 1 s, then every 0.7 s), or its final one
    /// early once its speech has paused for [`EARLY_MS`].
    pub(super) fn schedule(&mut self) {
        let early_running = self.early.as_ref().is_some_and(|e| e.result.is_none());
        if self.partial_running || self.finishing.is_some() || early_running {
            return;
        }
        let Some(turn) = &self.turn else {
            return;
        };
        let quiet = self.vad.as_ref().map_or(0, Vad::quiet_ms);
        let length = self.buffer.len();
        if quiet >= EARLY_MS {
            if self.early.is_none() {
                let item_id = turn.item_id.clone();
                self.early = Some(Early {
                    item_id: item_id.clone(),
                    covered: length,
                    voice: self.vad.as_ref().map_or(0, Vad::last_voice),
                    result: None,
                });
                let prefix = turn.words.prefix();
                self.decode(item_id, self.buffer.clone(), prefix, Kind::Early(length));
            }
            return;
        }
        // Once the speech pauses, the turn may be ending: its final decode should not wait
        // behind a partial one that can add nothing.
        if !self.streams
            || quiet > QUIET_MS
            || !turn.words.due(length)
            || Instant::now() < self.rest_until
        {
            return;
        }
        let prefix = turn.words.prefix();
        let item_id = turn.item_id.clone();
        self.partial_running = true;
        self.partial_began = Instant::now();
        self.decode(item_id, self.buffer.clone(), prefix, Kind::Partial(length));
    }

    pub(super) fn decode(
        &self,
        item_id: String,
        samples: Vec<i16>,
        prefix: Option<String>,
        kind: Kind,
    ) {
        let state = self.state.clone();
        let sender = self.results.0.clone();
        let options = Options {
            language: self.config.language.clone(),
            prompt: self.config.prompt.clone(),
            prefix,
            hotwords: Some(self.config.keywords.join(", ")).filter(|k| !k.is_empty()),
            ..Options::default()
        };
        let what = match kind {
            Kind::Partial(_) => "live partial",
            Kind::Final => "live turn",
            Kind::Early(_) => "live turn, early",
        };
        tokio::spawn(async move {
            let result = words::decode(&state, samples, options, what).await;
            let _ = sender
                .send(Answer {
                    item_id,
                    kind,
                    result,
                })
                .await;
        });
    }

    pub(super) async fn answered(&mut self, done: Answer) -> Result<(), Ended> {
        match done.kind {
            Kind::Partial(covered) => {
                self.partial_running = false;
                self.rest_until = Instant::now() + self.partial_began.elapsed();
                let delta = match (&mut self.turn, done.result) {
                    (Some(turn), Ok(text)) if turn.item_id == done.item_id => {
                        turn.words.partial(covered, &text)
                    }
                    _ => None,
                };
                if let Some(delta) = delta {
                    self.first_words();
                    self.delta(&done.item_id, &delta).await?;
                }
            }
            Kind::Early(covered) => {
                let finishing = self.finishing.as_ref().is_some_and(|w| {
                    w.item_id == done.item_id
                        && w.early.as_ref().is_some_and(|e| e.covered == covered)
                });
                if finishing {
                    if let Some(turn) = self.finishing.take() {
                        self.complete(turn, done.result).await?;
                    }
                    self.next_final().await?;
                } else if let Some(early) = &mut self.early
                    && early.item_id == done.item_id
                    && early.covered == covered
                {
                    early.result = Some(done.result);
                }
            }
            Kind::Final => {
                if let Some(turn) = self.finishing.take() {
                    self.complete(turn, done.result).await?;
                }
                self.next_final().await?;
            }
        }
        self.schedule();
        Ok(())
    }

    /// A committed turn's transcript (or its failure) to the client.
    async fn complete(
        &mut self,
        turn: Waiting,
        result: Result<String, crate::api_error::ApiError>,
    ) -> Result<(), Ended> {
        match result {
            Ok(text) => {
                let (last, transcript) = turn.words.finish(&text);
                if let Some(last) = last {
                    if !turn.first_sent {
                        let metrics = self.state.metrics();
                        metrics.live.first_delta(turn.began.elapsed().as_secs_f64());
                    }
                    self.delta(&turn.item_id, &last).await?;
                }
                self.state.metrics().live.turn();
                let seconds = turn.samples.len() as f64 / f64::from(RATE);
                self.send(
                    "conversation.item.input_audio_transcription.completed",
                    json!({
                        "item_id": turn.item_id,
                        "content_index": 0,
                        "transcript": transcript,
                        "usage": { "type": "duration", "seconds": (seconds * 1000.0).round() / 1000.0 },
                        "logprobs": null,
                    }),
                )
                .await
            }
            Err(e) => {
                tracing::info!(session = %self.id, "live: a turn's transcription failed: {}", e.message());
                self.send(
                    "conversation.item.input_audio_transcription.failed",
                    json!({
                        "item_id": turn.item_id,
                        "content_index": 0,
                        "error": {
                            "type": "transcription_error",
                            "code": e.code.as_str(),
                            "message": e.message(),
                            "param": null,
                        },
                    }),
                )
                .await
            }
        }
    }

    /// The speaking turn sent its first words: how long after its speech began.
    pub(super) fn first_words(&mut self) {
        if let Some(turn) = &mut self.turn
            && !turn.first_sent
        {
            turn.first_sent = true;
            let metrics = self.state.metrics();
            metrics.live.first_delta(turn.began.elapsed().as_secs_f64());
        }
    }

    pub(super) async fn delta(&mut self, item_id: &str, delta: &str) -> Result<(), Ended> {
        self.send(
            "conversation.item.input_audio_transcription.delta",
            json!({ "item_id": item_id, "content_index": 0, "delta": delta }),
        )
        .await
    }
}
