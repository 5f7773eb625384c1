//! Real speech through Murmur: time to first audio and real-time factor of the Piper engine,
//! measured directly against the engine and through the proxy in the same run.
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
use murmur_tests::murmurd::Quiet;

const TEXT: &str = "Murmur gives every program on this machine a private speech endpoint. \
    It starts the engine when the first request arrives. It restarts it when it crashes. \
    Audio streams back sentence by sentence. This paragraph has five sentences.";
const ROUNDS: usize = 5;

struct Sample {
    first_ms: f64,
    total_ms: f64,
    audio_secs: f64,
}

async fn speak(client: &Client, base: &str) -> Result<Sample> {
    let body =
        format!(r#"{{"model":"piper","voice":"joe","input":"{TEXT}","response_format":"pcm"}}"#);
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
        audio_secs: bytes as f64 / 2.0 / 24_000.0,
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
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

    speak(&client, &direct).await?; // warm-up
    let mut rows = Vec::new();
    for (name, base) in [
        ("direct to the engine", &direct),
        ("through Murmur", &proxy),
    ] {
        let mut samples = Vec::new();
        for _ in 0..ROUNDS {
            samples.push(speak(&client, base).await?);
        }
        let audio = samples[0].audio_secs;
        let first = median(samples.iter().map(|s| s.first_ms).collect());
        let total = median(samples.iter().map(|s| s.total_ms).collect());
        rows.push((name, first, total, audio));
    }
    println!(
        "pcm, {} sentences, median of {ROUNDS}:",
        TEXT.matches(". ").count() + 1
    );
    println!(
        "{:<24} {:>16} {:>12} {:>10} {:>8}",
        "", "first audio", "all audio", "audio", "RTF"
    );
    for (name, first, total, audio) in &rows {
        println!(
            "{name:<24} {first:>13.0} ms {total:>9.0} ms {audio:>8.1} s {:>8.3}",
            total / 1000.0 / audio
        );
    }
    println!(
        "\nadded by Murmur: {:+.1} ms to first audio, {:+.1} ms in all",
        rows[1].1 - rows[0].1,
        rows[1].2 - rows[0].2
    );
    Ok(())
}
