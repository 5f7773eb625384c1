//! MLX Audio (`mlx_audio.server`) on Apple Silicon: Kokoro and other models on the GPU. It
//! is asked to stream raw audio (Murmur encodes; no ffmpeg needed). Everything its first request needs is in place before
//! it starts, each with byte progress: the front ends' files PyPI lacks (the project's
//! `assets.toml`) and the model; then it runs with the Hub offline, so it never downloads
//! behind the user's back.

use futures_util::future::BoxFuture;

use super::{
    Engine, EngineSpec, Launch, Place, Preparation, Project, SpeechEngine, TranscriptionEngine,
    bundled_launch,
};
use crate::audio::EngineAudio;
use crate::config::{EngineId, Settings, TranscriptionEngineId};
use crate::problem::{Problem, Stage};

pub struct MlxAudio;

/// Every Kokoro model speaks at 24 kHz (its config's `sample_rate`).
const KOKORO_SAMPLE_RATE: u32 = 24_000;

impl Engine for MlxAudio {
    fn spec(&self) -> EngineSpec {
        EngineSpec {
            id: EngineId::MlxAudio.as_str(),
            display_name: "MLX Audio",
            default_model: Some("mlx-community/Kokoro-82M-bf16"),
            default_voice: Some("af_heart"),
        }
    }

    /// What Murmur asks of it; anything else (its model loading `POST /v1/models`, its docs,
    /// its realtime routes) gets Murmur's own 404.
    fn served_paths(&self) -> Option<&'static [&'static str]> {
        Some(super::bundled::MURMUR_SERVER_PATHS)
    }

    fn prepares(&self) -> &'static [Stage] {
        &[Stage::Assets, Stage::Model]
    }

    fn python_project(&self, _settings: &Settings) -> Option<Project> {
        Some(Project::Bundled("mlx-audio"))
    }

    fn launch(&self, settings: &Settings, place: &Place<'_>) -> Option<Launch> {
        server_launch(settings, place)
    }

    fn memory_estimate_mb(&self, settings: &Settings) -> Option<u64> {
        let model = settings
            .engine
            .model
            .as_deref()
            .unwrap_or("")
            .to_ascii_lowercase();
        Some(if model.contains("kokoro") || model.is_empty() {
            400
        } else if model.contains("0.6b") {
            1400
        } else if model.contains("1.7b") {
            3800
        } else {
            800
        })
    }

    /// The front ends' assets, then the model into the Hugging Face cache.
    fn prepare<'a>(&self, p: Preparation<'a>) -> BoxFuture<'a, Result<(), Problem>> {
        Box::pin(async move {
            crate::runtime::assets::ensure(
                p.project,
                &p.settings.runtime,
                p.data_dir,
                &crate::runtime::fetch::DownloadPolicy::default(),
                p.progress,
                p.log,
            )
            .await?;
            let model = super::effective_model(p.settings).unwrap_or_default();
            fetch_model(&p, &model).await
        })
    }
}

impl SpeechEngine for MlxAudio {
    /// Kokoro (24 kHz, whatever the voice) as raw PCM; other models as WAV, whose header says
    /// their rate. Streamed, mlx-audio writes each segment as a file of its own, so a WAV
    /// stream is several files back to back (Murmur reads them in turn); PCM has no headers to
    /// get wrong.
    fn audio(&self, settings: &Settings) -> EngineAudio {
        let model = super::effective_model(settings).unwrap_or_default();
        if model.to_ascii_lowercase().contains("kokoro") {
            EngineAudio::Pcm {
                rate: KOKORO_SAMPLE_RATE,
            }
        } else {
            EngineAudio::Wav
        }
    }

    fn asks_to_stream(&self) -> bool {
        true
    }

    /// It loads any Hub model a request names and keeps it resident.
    fn pins_model(&self) -> bool {
        true
    }
}

/// `model` into the Hugging Face cache by the runtime's own `huggingface_hub`, with progress.
async fn fetch_model(p: &Preparation<'_>, model: &str) -> Result<(), Problem> {
    let python_path = format!("{}:{}", p.runtime.dir.display(), p.project.display());
    super::model::fetch(
        &p.runtime.python,
        &python_path,
        &hub_env(&p.settings.runtime.huggingface_url, false),
        model,
        p.progress,
        p.log,
    )
    .await
}

/// The only CORS origin mlx_audio.server is told to allow: none a page can have.
pub const NO_ORIGIN: &str = "https://no-origin.invalid";

/// `mlx_audio.server` on `place`, its Hub offline (every model is fetched in warm-up).
fn server_launch(settings: &Settings, place: &Place<'_>) -> Option<Launch> {
    let runtime = place.runtime?;
    let project = place.project?;
    let logs = place.data_dir.join("logs").to_string_lossy().into_owned();
    let args = [
        "mlx_audio.server",
        "--host",
        place.host,
        "--port",
        &place.port.to_string(),
        "--log-dir",
        &logs,
        // It allows every CORS origin unless told otherwise: any web page could drive it on
        // its port. One origin no page can have (`.invalid` is reserved) allows none.
        "--allowed-origins",
        NO_ORIGIN,
    ]
    .map(String::from)
    .to_vec();
    let mut launch = bundled_launch(runtime, project, args);
    super::add_assets(&mut launch, project, place.data_dir);
    launch
        .env
        .extend(hub_env(&settings.runtime.huggingface_url, true));
    launch
        .env
        .insert("MLX_AUDIO_ALLOWED_ORIGINS".into(), NO_ORIGIN.into());
    Some(launch)
}

/// `[transcription] engine = "mlx-audio"`: `mlx_audio.server` with a Whisper model
/// (`mlx-community/whisper-large-v3-turbo` unless `[transcription] model` names another), a
/// process of its own even when speech is MLX Audio too: each unloads after its own idle
/// time, and a crash in one leaves the other speaking or listening. It is sent 16 kHz WAV
/// and asked for `verbose_json` (its own default, NDJSON, is no OpenAI client's).
pub struct MlxTranscription;

impl Engine for MlxTranscription {
    fn spec(&self) -> EngineSpec {
        EngineSpec {
            id: EngineId::MlxAudio.as_str(),
            display_name: "MLX Audio",
            default_model: TranscriptionEngineId::MlxAudio.default_model(),
            default_voice: None,
        }
    }

    fn prepares(&self) -> &'static [Stage] {
        &[Stage::Assets, Stage::Model]
    }

    fn python_project(&self, _settings: &Settings) -> Option<Project> {
        Some(Project::Bundled("mlx-audio"))
    }

    fn launch(&self, settings: &Settings, place: &Place<'_>) -> Option<Launch> {
        server_launch(settings, place)
    }

    /// What it needs besides what the server is asked: its transcription route and the probe.
    fn served_paths(&self) -> Option<&'static [&'static str]> {
        Some(&["/v1/audio/transcriptions", "/v1/models"])
    }

    /// Whisper weights in bf16 plus MLX itself: large-v3-turbo ~1.6 GB, the small ones less.
    fn memory_estimate_mb(&self, settings: &Settings) -> Option<u64> {
        let model = settings
            .transcription
            .effective_model()
            .unwrap_or_default()
            .to_ascii_lowercase();
        Some(if model.contains("tiny") || model.contains("base") {
            400
        } else if model.contains("small") {
            900
        } else if model.contains("turbo") || model.contains("distil") {
            1800
        } else {
            3500
        })
    }

    /// The model into the Hugging Face cache, with byte progress.
    fn prepare<'a>(&self, p: Preparation<'a>) -> BoxFuture<'a, Result<(), Problem>> {
        Box::pin(async move {
            let model = p
                .settings
                .transcription
                .effective_model()
                .unwrap_or_default();
            fetch_model(&p, &model).await
        })
    }
}

/// The Hub the model comes from (`[runtime] huggingface_url`); `offline` once it is cached:
/// the server then loads it without a network call, and a voice missing from it is an error
/// rather than a download in the middle of a request.
fn hub_env(huggingface_url: &str, offline: bool) -> Vec<(String, String)> {
    let mut env = vec![("HF_ENDPOINT".to_string(), huggingface_url.to_string())];
    if offline {
        env.push(("HF_HUB_OFFLINE".into(), "1".into()));
    }
    env
}

/// OpenAI's route.
impl TranscriptionEngine for MlxTranscription {}
