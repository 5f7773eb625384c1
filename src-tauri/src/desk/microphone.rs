//! The microphone, through cpal (ALSA — and so PulseAudio or PipeWire — on Linux, Core Audio,
//! WASAPI). A stream lives on a thread of its own (cpal's streams are not `Send` everywhere);
//! its callback turns every buffer into 16 kHz mono ([`ToListen`]) and hands it to the
//! [`Tap`]: the pre-roll while nobody dictates, the dictation while someone does.

use std::sync::{Arc, Mutex, mpsc};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use murmur_core::desk::sound::{PreRoll, ToListen, level};
use tokio::sync::mpsc as tokio_mpsc;

/// Where the microphone's sound goes.
pub struct Tap {
    preroll: PreRoll,
    dictation: Option<tokio_mpsc::UnboundedSender<Vec<i16>>>,
    /// The last buffer's loudness, 0–1.
    pub level: f32,
}

impl Tap {
    fn hear(&mut self, samples: Vec<i16>) {
        self.level = level(&samples);
        match &self.dictation {
            Some(to) => {
                let _ = to.send(samples);
            }
            None => self.preroll.push(&samples),
        }
    }
}

/// An open microphone. Dropping it closes the device.
pub struct Microphone {
    tap: Arc<Mutex<Tap>>,
    close: mpsc::Sender<()>,
    /// The device's name, for the log and the page.
    pub name: String,
    /// The name it was opened by (empty: the default).
    pub wanted: String,
    /// The pre-roll it keeps.
    pub preroll_ms: u64,
}

impl Microphone {
    /// Open `name` (empty: the system's default), keeping `preroll_ms` of sound.
    pub fn open(name: &str, preroll_ms: u64) -> Result<Self, String> {
        let tap = Arc::new(Mutex::new(Tap {
            preroll: PreRoll::new(preroll_ms),
            dictation: None,
            level: 0.0,
        }));
        let (opened, answer) = mpsc::channel();
        let (close, closed) = mpsc::channel::<()>();
        let (wanted, feeding) = (name.to_string(), tap.clone());
        let name_wanted = wanted.clone();
        std::thread::Builder::new()
            .name("murmur-microphone".into())
            .spawn(move || match stream(&wanted, feeding) {
                Ok((stream, name)) => {
                    let _ = opened.send(Ok(name));
                    let _ = closed.recv();
                    drop(stream);
                }
                Err(e) => {
                    let _ = opened.send(Err(e));
                }
            })
            .map_err(|e| format!("cannot start the microphone's thread: {e}"))?;
        let name = answer
            .recv()
            .map_err(|_| "the microphone's thread ended".to_string())??;
        Ok(Self {
            tap,
            close,
            name,
            wanted: name_wanted,
            preroll_ms,
        })
    }

    /// Begin a dictation: what the pre-roll kept comes first, then everything heard.
    pub fn listen(&self) -> tokio_mpsc::UnboundedReceiver<Vec<i16>> {
        let (to, from) = tokio_mpsc::unbounded_channel();
        let mut tap = lock(&self.tap);
        let before = tap.preroll.take();
        if !before.is_empty() {
            let _ = to.send(before);
        }
        tap.dictation = Some(to);
        from
    }

    /// End the dictation: sound goes to the pre-roll again.
    pub fn stop_listening(&self) {
        lock(&self.tap).dictation = None;
    }

    /// Reads the loudness of the last buffer, 0–1 (for the indicator's meter).
    pub fn level_handle(&self) -> impl Fn() -> f32 + Send + Sync + 'static {
        let tap = self.tap.clone();
        move || lock(&tap).level
    }
}

impl Drop for Microphone {
    fn drop(&mut self) {
        let _ = self.close.send(());
    }
}

fn lock(tap: &Mutex<Tap>) -> std::sync::MutexGuard<'_, Tap> {
    tap.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The names of the microphones there are, for the settings window.
pub fn names() -> Vec<String> {
    cpal::default_host()
        .input_devices()
        .map(|devices| {
            devices
                .filter_map(|d| d.description().ok().map(|d| d.name().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn stream(wanted: &str, tap: Arc<Mutex<Tap>>) -> Result<(cpal::Stream, String), String> {
    let host = cpal::default_host();
    let device = if wanted.is_empty() {
        host.default_input_device()
            .ok_or("there is no microphone (no default input device)")?
    } else {
        host.input_devices()
            .map_err(|e| format!("cannot list the microphones: {e}"))?
            .find(|d| d.description().is_ok_and(|d| d.name() == wanted))
            .ok_or_else(|| format!("there is no microphone named {wanted:?}"))?
    };
    let name = device
        .description()
        .map_or_else(|_| "microphone".into(), |d| d.name().to_string());
    let config = device
        .default_input_config()
        .map_err(|e| format!("{name} has no usable format: {e}"))?;
    let (rate, channels) = (config.sample_rate(), config.channels());
    // Small buffers: what the server still holds when the shortcut is released would be lost
    // (PulseAudio's default fragment is long). A device that refuses one gets its default.
    let fixed = cpal::BufferSize::Fixed(BUFFER_FRAMES);
    let stream = build(&device, &config, fixed, tap.clone())
        .or_else(|e| {
            tracing::debug!("microphone: a {BUFFER_FRAMES}-frame buffer was refused ({e})");
            build(&device, &config, cpal::BufferSize::Default, tap)
        })
        .map_err(|e| format!("cannot open {name}: {e}"))?;
    stream
        .play()
        .map_err(|e| format!("cannot start {name}: {e}"))?;
    tracing::info!("microphone: {name} open ({rate} Hz, {channels} channels)");
    Ok((stream, name))
}

/// The microphone's buffer, in frames (~20 ms).
const BUFFER_FRAMES: u32 = 1024;

/// An input stream on `device` with `buffer_size`, feeding `tap`.
fn build(
    device: &cpal::Device,
    config: &cpal::SupportedStreamConfig,
    buffer_size: cpal::BufferSize,
    tap: Arc<Mutex<Tap>>,
) -> Result<cpal::Stream, String> {
    let mut listen =
        ToListen::new(config.sample_rate(), config.channels()).map_err(|e| e.to_string())?;
    let mut stream_config = config.config();
    stream_config.buffer_size = buffer_size;
    let failed = |e: cpal::Error| tracing::warn!("microphone: {e}");
    match config.sample_format() {
        cpal::SampleFormat::F32 => device.build_input_stream(
            stream_config,
            move |data: &[f32], _: &cpal::InputCallbackInfo| feed(&mut listen, &tap, data),
            failed,
            None,
        ),
        cpal::SampleFormat::I16 => {
            let mut scratch = Vec::new();
            device.build_input_stream(
                stream_config,
                move |data: &[i16], _: &cpal::InputCallbackInfo| {
                    scratch.clear();
                    scratch.extend(data.iter().map(|&s| f32::from(s) / 32768.0));
                    feed(&mut listen, &tap, &scratch);
                },
                failed,
                None,
            )
        }
        other => {
            return Err(format!(
                "it sends {other} samples, which Murmur cannot read"
            ));
        }
    }
    .map_err(|e| e.to_string())
}

fn feed(listen: &mut ToListen, tap: &Mutex<Tap>, data: &[f32]) {
    match listen.push(data) {
        Ok(samples) if !samples.is_empty() => lock(tap).hear(samples),
        Ok(_) => {}
        Err(e) => tracing::warn!("microphone: {e}"),
    }
}
