//! One dictation: the microphone's audio (16 kHz mono) arrives while the shortcut is held;
//! words are decoded while it grows, through the live path ([`crate::live::Words`] and
//! [`crate::live::decode`], the transcription engine's gate), so the indicator shows them as
//! they are said; when the shortcut is released the rest is decoded after the words already
//! decided, and the whole text is the answer. Shutdown waits for a dictation under way.

use std::time::Instant;

use tokio::sync::{mpsc, oneshot, watch};

use crate::api_error::ApiError;
use crate::config::Settings;
use crate::live::{Vad, VadEdge, Words};
use crate::proxy::ProxyState;
use crate::transcription::decode::RATE;
use crate::transcription::engine::Options;

/// In toggle mode, this much quiet after speech ends the dictation.
pub const TOGGLE_SILENCE_MS: u32 = 1500;

/// What happened to a dictation.
#[derive(Debug, Clone, PartialEq)]
pub struct Heard {
    pub text: String,
    /// Seconds of audio heard (the pre-roll included).
    pub audio_secs: f64,
    /// From [`Dictation::finish`] (or the silence that ended it) to the text.
    pub text_ms: f64,
    /// It ended by itself, after a pause (toggle mode).
    pub by_silence: bool,
}

enum Event {
    Audio(Vec<i16>),
    /// The key is up; a little more audio comes (the tail), then [`Event::Finish`]. No new
    /// partial decode starts: the final one would wait behind it at the engine.
    Released,
    Finish,
    Cancel,
}

/// A dictation under way. Dropping it cancels it.
pub struct Dictation {
    events: mpsc::UnboundedSender<Event>,
    words: watch::Receiver<String>,
    done: oneshot::Receiver<Result<Option<Heard>, ApiError>>,
}

/// How a dictation listens.
#[derive(Debug, Clone, Default)]
pub struct Listen {
    pub language: Option<String>,
    /// `[dictation] words`.
    pub words: Vec<String>,
    /// End by itself after [`TOGGLE_SILENCE_MS`] of quiet following speech.
    pub stop_on_silence: bool,
}

impl Listen {
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            language: settings.transcription.language.clone(),
            words: settings.dictation.words.clone(),
            stop_on_silence: settings.dictation.mode == crate::config::DictationMode::Toggle,
        }
    }

    fn options(&self, prefix: Option<String>) -> Options {
        let words = Some(self.words.join(", ")).filter(|w| !w.is_empty());
        Options {
            task: Some(crate::transcription::transcript::Task::Transcribe),
            language: self.language.clone(),
            prompt: words.clone(),
            hotwords: words,
            prefix,
            ..Options::default()
        }
    }
}

impl Dictation {
    /// Begin listening; a 404 in OpenAI's shape when there is no transcription engine.
    pub fn start(state: ProxyState, listen: Listen) -> Result<Self, ApiError> {
        if state.transcription().is_none() {
            return Err(ApiError::not_found(
                "dictation needs a transcription engine ([transcription] engine is \"off\")",
            ));
        }
        let (events, received) = mpsc::unbounded_channel();
        let (said, words) = watch::channel(String::new());
        let (answer, done) = oneshot::channel();
        tokio::spawn(async move {
            let held = state.lifeline().hold();
            let result = run(&state, listen, received, said).await;
            let _ = answer.send(result);
            drop(held);
        });
        Ok(Self {
            events,
            words,
            done,
        })
    }

    /// More audio, 16 kHz mono.
    pub fn hear(&self, samples: Vec<i16>) {
        self.feeder().hear(samples);
    }

    /// A handle that feeds this dictation while [`Self::heard`] is awaited.
    pub fn feeder(&self) -> Feeder {
        Feeder(self.events.clone())
    }

    /// The words decided so far (they only grow).
    pub fn words(&self) -> watch::Receiver<String> {
        self.words.clone()
    }

    /// The shortcut was released: decode what is left.
    pub fn finish(&self) {
        let _ = self.events.send(Event::Finish);
    }

    /// Esc: nothing is decoded or kept.
    pub fn cancel(&self) {
        let _ = self.events.send(Event::Cancel);
    }

    /// The text once the dictation ends (`None` when it was cancelled).
    pub async fn heard(&mut self) -> Result<Option<Heard>, ApiError> {
        (&mut self.done)
            .await
            .unwrap_or_else(|_| Err(ApiError::murmur_unavailable("the dictation was lost")))
    }
}

/// Feeds a [`Dictation`] from elsewhere.
#[derive(Clone)]
pub struct Feeder(mpsc::UnboundedSender<Event>);

impl Feeder {
    /// More audio, 16 kHz mono.
    pub fn hear(&self, samples: Vec<i16>) {
        let _ = self.0.send(Event::Audio(samples));
    }

    /// No more audio: decode what is left.
    pub fn finish(&self) {
        let _ = self.0.send(Event::Finish);
    }

    /// The key is up: the last audio is on its way, and the final decode comes next.
    pub fn released(&self) {
        let _ = self.0.send(Event::Released);
    }
}

impl Drop for Dictation {
    fn drop(&mut self) {
        let _ = self.events.send(Event::Cancel);
    }
}

/// A partial decode's answer: how many samples it covered, and their words.
type Partial = (usize, Result<String, ApiError>);

async fn run(
    state: &ProxyState,
    listen: Listen,
    mut events: mpsc::UnboundedReceiver<Event>,
    said: watch::Sender<String>,
) -> Result<Option<Heard>, ApiError> {
    let streams = crate::live::engine_streams(state);
    let mut samples: Vec<i16> = Vec::with_capacity(RATE as usize * 10);
    let mut words = Words::default();
    let (answers, mut answered) = mpsc::channel::<Partial>(1);
    let mut running = false;
    // Whether anyone spoke (Whisper makes words up from silence), and, in toggle mode, when
    // they stopped.
    let mut vad = Vad::new(crate::live::TurnDetection {
        silence_duration_ms: TOGGLE_SILENCE_MS,
        ..crate::live::TurnDetection::default()
    });
    let (mut edges, mut voiced, mut released) = (Vec::new(), false, false);
    let by_silence = loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(Event::Audio(audio)) => {
                    vad.push(&audio, &mut edges);
                    samples.extend_from_slice(&audio);
                    voiced |= edges.iter().any(|e| matches!(e, VadEdge::Started { .. }));
                    let quiet = edges.drain(..).any(|e| matches!(e, VadEdge::Stopped { .. }));
                    if quiet && listen.stop_on_silence {
                        break true;
                    }
                }
                Some(Event::Released) => released = true,
                Some(Event::Finish) => break false,
                Some(Event::Cancel) | None => return Ok(None),
            },
            Some((covered, result)) = answered.recv() => {
                running = false;
                if let Ok(text) = result
                    && let Some(more) = words.partial(covered, &text)
                {
                    said.send_modify(|so_far| so_far.push_str(&more));
                }
            }
        }
        if streams && !running && !released && words.due(samples.len()) {
            running = true;
            let (state, answers) = (state.clone(), answers.clone());
            let (audio, options) = (samples.clone(), listen.options(words.prefix()));
            tokio::spawn(async move {
                let covered = audio.len();
                let result = crate::live::decode(&state, audio, options, "dictation partial").await;
                let _ = answers.send((covered, result)).await;
            });
        }
    };
    let released = Instant::now();
    let audio_secs = samples.len() as f64 / f64::from(RATE);
    if !voiced {
        return Ok(Some(Heard {
            text: String::new(),
            audio_secs,
            text_ms: 0.0,
            by_silence,
        }));
    }
    let options = listen.options(words.prefix());
    let continuation = crate::live::decode(state, samples, options, "dictation").await?;
    let (last, text) = words.finish(&continuation);
    if let Some(last) = last {
        said.send_modify(|so_far| so_far.push_str(&last));
    }
    Ok(Some(Heard {
        text: text.trim().to_string(),
        audio_secs,
        text_ms: released.elapsed().as_secs_f64() * 1000.0,
        by_silence,
    }))
}
