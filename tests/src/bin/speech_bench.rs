//! Real speech through Murmur: time to first audio and real-time factor of the Piper engine,
//! measured directly against the engine (its own PCM and WAV) and through the proxy in every
//! format in the same run, with the CPU time murmurd spends per second of audio it encodes
//! against the CPU time the engine spends synthesising it.
//!
//! `make bench` (or `cargo run --release -p murmur-tests --bin speech-bench`). Provisions Piper
//! in a temporary data dir first (uv and packages from PyPI). Prints figures only.

#![allow(clippy::print_stdout, reason = "a benchmark report is printed")]

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use http::Method;
use http_body_util::BodyExt;
use murmur_tests::Client;
use murmur_tests::client::request;
use murmur_tests::measure::median;
use murmur_tests::murmurd::Quiet;

const TEXT: &str = "Murmur gives every program on this machine a private speech endpoint. \
    It starts the engine when the first request arrives. It restarts it when it crashes. \
    Audio streams back sentence by sentence. This paragraph has five sentences.";
const ROUNDS: usize = 7;

struct Sample {
    first_ms: f64,
    total_ms: f64,
    audio_secs: f64,
}

/// CPU time (user + system) a process has used, from `/proc/<pid>/stat`.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

async fn speak(client: &Client, base: &str, format: &str) -> Result<Sample> {
    let body = format!(
        r#"{{"model":"piper","voice":"joe","input":"{TEXT}","response_format":"{format}"}}"#
    );
    let started = Instant::now();
    let response = client
        .send(request(
            Method::POST,
            &format!("{base}/v1/audio/speech"),
            body,
        ))
        .await;
    if response.status() != 200 {
        bail!("status {}", response.status());
    }
    // The engine's own PCM is at its voice's rate; Murmur's at 24 kHz.
    let rate: f64 = response
        .headers()
        .get("x-audio-sample-rate")
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(24_000.0);
    let mut stream = response.into_body();
    let (mut first, mut bytes) = (None, 0usize);
    while let Some(frame) = stream.frame().await {
        if let Some(data) = frame?.data_ref() {
            first.get_or_insert_with(|| started.elapsed());
            bytes += data.len();
        }
    }
    Ok(Sample {
        first_ms: first.unwrap_or_default().as_secs_f64() * 1000.0,
        total_ms: started.elapsed().as_secs_f64() * 1000.0,
        audio_secs: bytes as f64 / 2.0 / rate,
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let data_dir = tempfile::tempdir()?;
    std::fs::write(
        data_dir.path().join("config.toml"),
        "[proxy]\nmax_concurrent_requests = 1\n[runtime]\npython_install_mirror = \"http://127.0.0.1:9/python\"\n",
    )?;
    let spawned = Instant::now();
    let murmurd = Quiet::spawn(data_dir.path(), &["--engine", "piper"])?;
    let proxy = murmurd.base.clone();
    let token = std::fs::read_to_string(data_dir.path().join("control-token"))?;
    let client = Client::new();
    let port = loop {
        let mut status = request(Method::GET, &format!("{proxy}/murmur/api/status"), "");
        status
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse()?);
        let json = client.exchange(status).await.json();
        if json["state"] == "ready" {
            break json["engine"]["port"].as_u64().context("engine port")?;
        }
        if json["state"] == "failed" || json["error"].is_object() {
            bail!("piper did not start: {json}");
        }
        if spawned.elapsed() > Duration::from_secs(300) {
            bail!("piper not ready after 300 s: {json}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    println!(
        "piper provisioned and ready {:.1} s after murmurd started (cold data dir)\n",
        spawned.elapsed().as_secs_f64()
    );
    let direct = format!("http://127.0.0.1:{port}");
    let engine_pid = {
        let mut status = request(Method::GET, &format!("{proxy}/murmur/api/status"), "");
        status
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse()?);
        client.exchange(status).await.json()["engine"]["pid"]
            .as_u64()
            .context("engine pid")? as u32
    };
    let murmurd_pid = murmurd.child.id();

    for _ in 0..3 {
        speak(&client, &direct, "pcm").await?; // warm-up
    }
    let mut rows = Vec::new();
    let mut cases: Vec<(String, &str, &str)> = vec![
        ("engine's own pcm".into(), &direct, "pcm"),
        ("engine's own wav".into(), &direct, "wav"),
    ];
    for format in ["pcm", "wav", "mp3", "opus", "aac", "flac"] {
        cases.push((format!("Murmur {format}"), &proxy, format));
    }
    // Rounds go through every case in turn, so a machine that speeds up or slows down
    // meanwhile affects them all alike. Every case speaks the same text: its audio lasts as
    // long as the engine's own PCM.
    let mut samples: Vec<Vec<Sample>> = cases.iter().map(|_| Vec::new()).collect();
    let mut cpu = vec![(0.0, 0.0); cases.len()];
    for _ in 0..ROUNDS {
        for (i, (_, base, format)) in cases.iter().enumerate() {
            let (engine_cpu, murmurd_cpu) = (cpu_secs(engine_pid), cpu_secs(murmurd_pid));
            samples[i].push(speak(&client, base, format).await?);
            cpu[i].0 += cpu_secs(murmurd_pid) - murmurd_cpu;
            cpu[i].1 += cpu_secs(engine_pid) - engine_cpu;
        }
    }
    let audio_secs = samples[0][0].audio_secs;
    for (i, (name, _, _)) in cases.iter().enumerate() {
        let audio = audio_secs * ROUNDS as f64;
        let first = median(samples[i].iter().map(|s| s.first_ms).collect());
        let total = median(samples[i].iter().map(|s| s.total_ms).collect());
        rows.push((
            name.clone(),
            first,
            total,
            audio_secs,
            cpu[i].0 / audio * 1000.0,
            cpu[i].1 / audio * 1000.0,
        ));
    }
    println!(
        "Piper, {} sentences, median of {ROUNDS} (CPU: ms per second of audio, summed over the rounds):",
        TEXT.matches(". ").count() + 1
    );
    println!(
        "{:<20} {:>12} {:>11} {:>8} {:>7} {:>12} {:>12}",
        "", "first audio", "all audio", "audio", "RTF", "murmurd CPU", "engine CPU"
    );
    for (name, first, total, audio, murmurd_cpu, engine_cpu) in &rows {
        println!(
            "{name:<20} {first:>9.0} ms {total:>8.0} ms {audio:>6.1} s {:>7.3} {murmurd_cpu:>9.1} ms {engine_cpu:>9.1} ms",
            total / 1000.0 / audio
        );
    }
    let pcm_first = rows[0].1;
    println!();
    for (name, first, _, _, murmurd_cpu, engine_cpu) in &rows[2..] {
        println!(
            "{name:<20} first audio {:+6.1} ms against the engine's own pcm; encoding CPU {:5.1} % of synthesis CPU",
            first - pcm_first,
            murmurd_cpu / engine_cpu.max(f64::EPSILON) * 100.0
        );
    }
    encoder_latency(&client, &direct).await?;
    Ok(())
}

/// The encoders' share of first-audio time, without the network's noise: a sentence of the
/// engine's real PCM through Murmur's pipeline in process, as the proxy feeds it (100 ms
/// slices), timed until the first bytes for the client.
async fn encoder_latency(client: &Client, direct: &str) -> Result<()> {
    use murmur_core::audio::{EngineAudio, Format, Pipeline};
    let body = format!(r#"{{"input":"{TEXT}","response_format":"pcm"}}"#);
    let response = client
        .send(request(
            Method::POST,
            &format!("{direct}/v1/audio/speech"),
            body,
        ))
        .await;
    let rate: u32 = response
        .headers()
        .get("x-audio-sample-rate")
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(22_050);
    let pcm = response.into_body().collect().await?.to_bytes();
    println!("\nin process, the engine's PCM in 100 ms slices (median of 20):");
    println!(
        "{:<8} {:>18} {:>22}",
        "format", "to first bytes", "CPU per audio second"
    );
    for format in Format::ALL {
        let (mut first, mut whole) = (Vec::new(), Vec::new());
        for _ in 0..20 {
            let started = Instant::now();
            let mut pipeline = Pipeline::new(EngineAudio::Pcm { rate }, format, false)?;
            let mut at_first = None;
            for slice in pcm.chunks(4800) {
                if !pipeline.push(slice)?.is_empty() {
                    at_first.get_or_insert_with(|| started.elapsed());
                }
            }
            pipeline.finish()?;
            first.push(at_first.unwrap_or_default().as_secs_f64() * 1000.0);
            whole.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        let seconds = pcm.len() as f64 / 2.0 / f64::from(rate);
        println!(
            "{:<8} {:>15.2} ms {:>19.2} ms",
            format.as_str(),
            median(first),
            median(whole) / seconds
        );
    }
    Ok(())
}
