//! Kokoro-82M on ONNX Runtime (`python-runtime/kokoro`, Murmur's own server over kokoro-onnx):
//! the voice most local-TTS users pick, on every platform, with the MLX engine's voice ids.
//! Streams 24 kHz PCM sentence by sentence.
//!
//! Before it starts, warm-up puts in place, each with byte progress and a digest checked:
//! the front ends' files PyPI lacks (the project's `assets.toml`), the model (int8 or fp32,
//! `[engine.kokoro] model`, from `[runtime] kokoro_models_url`, sha256 pinned here) and the
//! default voice (from the Hub, see [`crate::voices::kokoro`]). More voices come from the
//! catalog while it runs.

use std::path::{Path, PathBuf};

use futures_util::future::BoxFuture;

use super::{
    Engine, EngineSpec, Launch, Place, Preparation, Project, SpeechEngine, bundled_launch,
};
use crate::audio::EngineAudio;
use crate::config::{EngineId, KokoroModel, Settings};
use crate::problem::{Problem, Stage};
use crate::runtime::fetch::DownloadPolicy;
use crate::runtime::fetch::{self, Cancel, Digest, FetchError};

pub struct Kokoro;

/// One of kokoro-onnx's model files (release `model-files-v1.0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelFile {
    pub name: &'static str,
    pub size: u64,
    pub sha256: &'static str,
}

pub const INT8: ModelFile = ModelFile {
    name: "kokoro-v1.0.int8.onnx",
    size: 92_361_271,
    sha256: "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb",
};

pub const FP32: ModelFile = ModelFile {
    name: "kokoro-v1.0.onnx",
    size: 325_532_387,
    sha256: "7d5df8ecf7d4b1878015a32686053fd0eebe2bc377234608764cc0ef3636a6c5",
};

pub fn model_file(settings: &Settings) -> ModelFile {
    match settings.engine.kokoro.model {
        KokoroModel::Int8 => INT8,
        KokoroModel::Fp32 => FP32,
    }
}

/// `<data-dir>/models/kokoro/<file>`.
pub fn model_path(settings: &Settings, data_dir: &Path) -> PathBuf {
    data_dir
        .join("models")
        .join("kokoro")
        .join(model_file(settings).name)
}

/// Kokoro speaks at 24 kHz, whatever the voice.
const SAMPLE_RATE: u32 = 24_000;

impl Engine for Kokoro {
    fn spec(&self) -> EngineSpec {
        EngineSpec {
            id: EngineId::Kokoro.as_str(),
            display_name: "Kokoro",
            default_model: Some("kokoro"),
            default_voice: Some("af_heart"),
        }
    }

    fn served_paths(&self) -> Option<&'static [&'static str]> {
        Some(super::bundled::MURMUR_SERVER_PATHS)
    }

    fn prepares(&self) -> &'static [Stage] {
        &[Stage::Assets, Stage::Model, Stage::Voice]
    }

    fn python_project(&self, _settings: &Settings) -> Option<Project> {
        Some(Project::Bundled("kokoro"))
    }

    fn launch(&self, settings: &Settings, place: &Place<'_>) -> Option<Launch> {
        let runtime = place.runtime?;
        let project = place.project?;
        let args = vec![
            "murmur_kokoro_server".to_string(),
            "--host".into(),
            place.host.into(),
            "--port".into(),
            place.port.to_string(),
            "--model".into(),
            model_path(settings, place.data_dir)
                .to_string_lossy()
                .into_owned(),
            "--voices-dir".into(),
            crate::voices::voices_dir(settings, place.data_dir)
                .to_string_lossy()
                .into_owned(),
        ];
        let mut launch = bundled_launch(runtime, project, args);
        super::add_assets(&mut launch, project, place.data_dir);
        Some(launch)
    }

    /// Measured on Linux x86-64: ~450 MB RSS with the int8 model after a few requests
    /// (onnxruntime, spaCy and the front ends); fp32 adds the larger weights.
    fn memory_estimate_mb(&self, settings: &Settings) -> Option<u64> {
        Some(match settings.engine.kokoro.model {
            KokoroModel::Int8 => 600,
            KokoroModel::Fp32 => 900,
        })
    }

    fn prepare<'a>(&self, p: Preparation<'a>) -> BoxFuture<'a, Result<(), Problem>> {
        Box::pin(async move {
            let policy = DownloadPolicy::default();
            crate::runtime::assets::ensure(
                p.project,
                &p.settings.runtime,
                p.data_dir,
                &policy,
                p.progress,
                p.log,
            )
            .await?;
            fetch_model(p.settings, p.data_dir, &policy, p.progress, p.log).await?;
            default_voice(p.settings, p.data_dir, &policy, p.progress, p.log).await
        })
    }
}

impl SpeechEngine for Kokoro {
    fn audio(&self, _settings: &Settings) -> EngineAudio {
        EngineAudio::Pcm { rate: SAMPLE_RATE }
    }
}

/// The model into `<data-dir>/models/kokoro/`, unless it is there.
async fn fetch_model(
    settings: &Settings,
    data_dir: &Path,
    policy: &DownloadPolicy,
    progress: &crate::runtime::Progress,
    log: &(dyn Fn(&str) + Send + Sync),
) -> Result<(), Problem> {
    let file = model_file(settings);
    let dest = model_path(settings, data_dir);
    if dest.is_file() {
        return Ok(());
    }
    let base = &settings.runtime.kokoro_models_url;
    let source = format!("{}/{}", base.trim_end_matches('/'), file.name);
    let message = format!("downloading the Kokoro model ({})", file.name);
    progress.stage(Stage::Model, message.clone());
    let report = |done: u64, total: Option<u64>| {
        let total = total.unwrap_or(file.size);
        progress.report(super::model::warmup(file.name, done.min(total), total));
    };
    fetch::fetch(fetch::Request {
        source: &source,
        dest: &dest,
        digest: &Digest::Sha256(file.sha256.into()),
        size: Some(file.size),
        policy,
        progress: &report,
        cancel: &Cancel::default(),
    })
    .await
    .map_err(|e| match e {
        FetchError::Mismatch(why) => Problem::new(format!("the Kokoro model: {why}"))
            .hint("check [runtime] kokoro_models_url: it must serve kokoro-onnx's release files"),
        e @ FetchError::Disk { .. } => {
            Problem::new(format!("the Kokoro model cannot be written: {e}")).hint(format!(
                "check free disk space ({} MB needed)",
                file.size / 1_000_000
            ))
        }
        other => Problem::new(format!(
            "the Kokoro model could not be downloaded from {source}: {other}"
        ))
        .hint(format!(
            "connect to the internet once, or set [runtime] kokoro_models_url to a mirror or a \
             folder holding {}",
            file.name
        )),
    })?;
    log(&format!(
        "[murmur] Kokoro model installed at {}",
        dest.display()
    ));
    Ok(())
}

/// The voice requests get when they name none, so the first request speaks.
async fn default_voice(
    settings: &Settings,
    data_dir: &Path,
    policy: &DownloadPolicy,
    progress: &crate::runtime::Progress,
    log: &(dyn Fn(&str) + Send + Sync),
) -> Result<(), Problem> {
    let voice = super::effective_voice(settings).unwrap_or_else(|| "af_heart".into());
    let dir = crate::voices::voices_dir(settings, data_dir);
    if dir.join(format!("{voice}.bin")).is_file() {
        return Ok(());
    }
    let hub = &settings.runtime.huggingface_url;
    let unreachable = |why: &dyn std::fmt::Display| {
        Problem::new(format!(
            "the Kokoro voice {voice} could not be downloaded: {why}"
        ))
        .hint("connect to the internet once, or set [runtime] huggingface_url to a mirror")
    };
    progress.stage(Stage::Voice, format!("looking up the voice {voice}"));
    let index = crate::voices::get(&crate::voices::kokoro::index_url(hub))
        .await
        .map_err(|e| unreachable(&e))?;
    let voices = crate::voices::kokoro::parse(hub, Some(&index)).map_err(|e| unreachable(&e))?;
    let Some((_, remote)) = voices.into_iter().find(|(entry, _)| entry.id == voice) else {
        return Err(Problem::new(format!("Kokoro has no voice {voice:?}")).hint(
            "pick one of Kokoro's voices in [engine] voice (af_heart, bf_emma, jf_alpha, \
                 zf_xiaobei, …)",
        ));
    };
    let total: u64 = remote.iter().map(|r| r.size).sum();
    let message = format!("downloading the voice {voice}");
    let report = |done: u64| progress.bytes(Stage::Voice, &message, done, Some(total));
    let staging = data_dir.join("voices").join("downloads");
    crate::voices::download(&remote, &staging, &dir, policy, &report, &Cancel::default())
        .await
        .map_err(|e| unreachable(&e))?;
    log(&format!(
        "[murmur] Kokoro voice {voice} installed in {}",
        dir.display()
    ));
    Ok(())
}
