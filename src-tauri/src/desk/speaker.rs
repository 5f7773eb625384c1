//! The speakers, through cpal: one stream, open while read aloud is on, fed from a queue each
//! reading fills ([`ToPlay`] converts speech's 24 kHz PCM to the device's rate and channels).
//! Kept open because a sound server may start a new stream late (PulseAudio's null sink: over
//! a second); an open stream plays what is queued within its buffer's length (~20 ms).
//! Stopping empties the queue, which is heard at once.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Instant;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use murmur_core::desk::sound::ToPlay;

/// What the device plays from.
#[derive(Default)]
struct Queue {
    samples: VecDeque<f32>,
    /// When the first non-silent buffer went to the device.
    first_sound: Option<Instant>,
    /// Every sample has been queued: once empty, the reading is over.
    complete: bool,
    /// Which reading the queue is for: a reading stopped while it was queueing (its task
    /// aborted between two awaits, on another thread) queues nothing more.
    reading: u64,
}

/// An open output stream.
pub struct Speaker {
    queue: Arc<Mutex<Queue>>,
    close: mpsc::Sender<()>,
    pub rate: u32,
    pub channels: u16,
}

/// The device's buffer, in frames: small, so that stopping is heard at once.
const BUFFER_FRAMES: u32 = 1024;

impl Speaker {
    pub fn open() -> Result<Self, String> {
        let queue = Arc::new(Mutex::new(Queue::default()));
        let (opened, answer) = mpsc::channel();
        let (close, closed) = mpsc::channel::<()>();
        let playing = queue.clone();
        std::thread::Builder::new()
            .name("murmur-speaker".into())
            .spawn(move || match stream(playing) {
                Ok((stream, rate, channels)) => {
                    let _ = opened.send(Ok((rate, channels)));
                    let _ = closed.recv();
                    drop(stream);
                }
                Err(e) => {
                    let _ = opened.send(Err(e));
                }
            })
            .map_err(|e| format!("cannot start the speaker's thread: {e}"))?;
        let (rate, channels) = answer
            .recv()
            .map_err(|_| "the speaker's thread ended".to_string())??;
        Ok(Self {
            queue,
            close,
            rate,
            channels,
        })
    }

    /// A converter from speech's PCM at `rate` to this device.
    pub fn converter(&self, rate: u32) -> Result<ToPlay, String> {
        ToPlay::new(rate, self.rate, self.channels).map_err(|e| e.to_string())
    }

    /// Queue `frames` of `reading` (as [`Self::reset`] numbered it), unless another reading
    /// has begun or this one was stopped since.
    pub fn play(&self, reading: u64, frames: &[f32]) {
        let mut queue = lock(&self.queue);
        if queue.reading == reading {
            queue.samples.extend(frames);
        }
    }

    /// Seconds queued and not yet played.
    pub fn queued_secs(&self) -> f64 {
        lock(&self.queue).samples.len() as f64 / f64::from(self.rate) / f64::from(self.channels)
    }

    pub fn first_sound(&self) -> Option<Instant> {
        lock(&self.queue).first_sound
    }

    /// Silence, and a new reading: nothing queued, nothing heard yet. Returns the new
    /// reading's number; what an earlier one still plays is dropped.
    pub fn reset(&self) -> u64 {
        let mut queue = lock(&self.queue);
        queue.samples.clear();
        queue.first_sound = None;
        queue.complete = false;
        queue.reading += 1;
        queue.reading
    }

    /// Nothing more will come of `reading`; [`Self::drained`] tells when it has all been played.
    pub fn complete(&self, reading: u64) {
        let mut queue = lock(&self.queue);
        if queue.reading == reading {
            queue.complete = true;
        }
    }

    pub fn drained(&self) -> bool {
        let queue = lock(&self.queue);
        queue.complete && queue.samples.is_empty()
    }
}

impl Drop for Speaker {
    fn drop(&mut self) {
        lock(&self.queue).samples.clear();
        let _ = self.close.send(());
    }
}

fn lock(queue: &Mutex<Queue>) -> std::sync::MutexGuard<'_, Queue> {
    queue
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn stream(queue: Arc<Mutex<Queue>>) -> Result<(cpal::Stream, u32, u16), String> {
    let device = cpal::default_host()
        .default_output_device()
        .ok_or("there are no speakers (no default output device)")?;
    let supported = device
        .default_output_config()
        .map_err(|e| format!("the speakers have no usable format: {e}"))?;
    let (rate, channels) = (supported.sample_rate(), supported.channels());
    // A small buffer: whatever the device takes ahead (silence, before the speech arrives) is
    // heard before the speech, and stopping waits for it. Servers that report no range
    // (PulseAudio) honour it too; a device that refuses it gets its default.
    let fixed = cpal::BufferSize::Fixed(BUFFER_FRAMES);
    let stream = build(&device, &supported, fixed, queue.clone()).or_else(|e| {
        tracing::debug!(
            "speaker: a {BUFFER_FRAMES}-frame buffer was refused ({e}); using the default"
        );
        build(&device, &supported, cpal::BufferSize::Default, queue)
    })?;
    stream
        .play()
        .map_err(|e| format!("cannot start the speakers: {e}"))?;
    Ok((stream, rate, channels))
}

/// An output stream on `device` with `buffer_size`, filled from `queue`.
fn build(
    device: &cpal::Device,
    supported: &cpal::SupportedStreamConfig,
    buffer_size: cpal::BufferSize,
    queue: Arc<Mutex<Queue>>,
) -> Result<cpal::Stream, String> {
    let mut config = supported.config();
    config.buffer_size = buffer_size;
    let fill = move |out: &mut [f32]| {
        let mut queue = lock(&queue);
        let n = out.len().min(queue.samples.len());
        for (slot, sample) in out.iter_mut().zip(queue.samples.drain(..n)) {
            *slot = sample;
        }
        for slot in &mut out[n..] {
            *slot = 0.0;
        }
        if queue.first_sound.is_none() && out[..n].iter().any(|s| s.abs() > 1e-3) {
            queue.first_sound = Some(Instant::now());
        }
    };
    let failed = |e: cpal::Error| tracing::warn!("speaker: {e}");
    match supported.sample_format() {
        cpal::SampleFormat::F32 => device.build_output_stream(
            config,
            move |out: &mut [f32], _: &cpal::OutputCallbackInfo| fill(out),
            failed,
            None,
        ),
        cpal::SampleFormat::I16 => {
            let (fill, mut scratch) = (fill, Vec::new());
            device.build_output_stream(
                config,
                move |out: &mut [i16], _: &cpal::OutputCallbackInfo| {
                    scratch.resize(out.len(), 0.0);
                    fill(&mut scratch);
                    for (slot, s) in out.iter_mut().zip(&scratch) {
                        *slot = (s.clamp(-1.0, 1.0) * 32767.0) as i16;
                    }
                },
                failed,
                None,
            )
        }
        other => {
            return Err(format!(
                "the speakers take {other} samples, which Murmur cannot make"
            ));
        }
    }
    .map_err(|e| format!("cannot open the speakers: {e}"))
}
