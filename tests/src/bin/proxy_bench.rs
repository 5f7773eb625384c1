//! Proxy overhead benchmark: a fast fake engine on loopback, measured directly and through a
//! real `murmurd` (release build) in the same run, so the ratios are fair on a noisy machine.
//!
//! `make bench` (or `cargo run --release -p murmur-tests --bin proxy-bench`). Prints figures
//! only; it asserts nothing, because timing on a shared machine is not a test.

#![allow(clippy::print_stdout, reason = "a benchmark report is printed")]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use murmur_tests::FakeUpstream;

const CLIENTS: usize = 8;
const RUN: Duration = Duration::from_secs(4);
const WARMUP: Duration = Duration::from_millis(500);
const SPEECH_BYTES: usize = 256 * 1024;

type Http = Client<HttpConnector, Full<Bytes>>;

#[derive(Clone, Copy)]
enum Call {
    Models,
    Speech,
}

struct Figures {
    requests_per_sec: f64,
    mb_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
}

async fn once(client: &Http, base: &str, call: Call) -> Result<usize> {
    let request = match call {
        Call::Models => http::Request::get(format!("{base}/v1/models")).body(Full::new(Bytes::new()))?,
        Call::Speech => http::Request::post(format!("{base}/v1/audio/speech"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(format!(
                r#"{{"model":"m","voice":"v","input":"benchmark","fake":{{"bytes":{SPEECH_BYTES},"chunk":16384}}}}"#
            ))))?,
    };
    let response = client.request(request).await?;
    if !response.status().is_success() {
        bail!("status {}", response.status());
    }
    let mut body = response.into_body();
    let mut bytes = 0;
    while let Some(frame) = body.frame().await {
        if let Some(data) = frame?.data_ref() {
            bytes += data.len();
        }
    }
    Ok(bytes)
}

/// `clients` loops hammering `call` for `RUN` after a warm-up.
async fn load(base: &str, call: Call, clients: usize) -> Result<Figures> {
    let client: Http = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let warm_until = Instant::now() + WARMUP;
    while Instant::now() < warm_until {
        once(&client, base, call).await?;
    }
    let base: Arc<str> = base.into();
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (client, base) = (client.clone(), base.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut bytes = 0usize;
                while started.elapsed() < RUN {
                    let t = Instant::now();
                    bytes += once(&client, &base, call).await?;
                    latencies.push(t.elapsed());
                }
                Ok::<_, anyhow::Error>((latencies, bytes))
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut bytes = 0;
    for task in tasks {
        let (l, b) = task.await??;
        latencies.extend(l);
        bytes += b;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: f64| {
        latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)].as_secs_f64()
            * 1000.0
    };
    Ok(Figures {
        requests_per_sec: latencies.len() as f64 / elapsed,
        mb_per_sec: bytes as f64 / elapsed / 1e6,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    })
}

fn rss_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Run the fake engine in a child process (this binary with `--fake-upstream`), so that the
/// direct and the proxied runs both cross process boundaries as real clients do.
fn spawn_fake() -> Result<(std::process::Child, String)> {
    let mut child = Command::new(std::env::current_exe()?)
        .arg("--fake-upstream")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("spawn the fake upstream")?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
    Ok((child, line.trim().to_string()))
}

async fn serve_fake() -> Result<()> {
    let fake = FakeUpstream::start().await;
    println!("{}", fake.url());
    // Serve until the parent closes our stdin.
    tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin(), &mut std::io::sink()))
        .await??;
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    if std::env::args().any(|a| a == "--fake-upstream") {
        return serve_fake().await;
    }
    let (mut fake_child, fake_url) = spawn_fake()?;
    let data_dir = tempfile::tempdir()?;
    std::fs::write(
        data_dir.path().join("config.toml"),
        format!(
            "[proxy]\nmax_concurrent_requests = {CLIENTS}\nmax_queue = 64\n[engine]\nid = \"external\"\nurl = \"{}\"\n",
            fake_url
        ),
    )?;
    let murmurd = murmur_tests::murmurd::Quiet::spawn(data_dir.path(), &[])?;
    let (proxy, listening) = (murmurd.base.clone(), murmurd.listening_after);
    let direct = fake_url.clone();
    let pid = murmurd.child.id();
    println!(
        "murmurd: listening {:.1} ms after spawn (debug builds are slower; use --release)",
        listening.as_secs_f64() * 1000.0
    );
    println!(
        "machine: {} cores; {CLIENTS} concurrent clients; {} s per run\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        RUN.as_secs()
    );

    if std::env::var_os("BENCH_SINGLE_ONLY").is_some() {
        let single = load(&proxy, Call::Models, 1).await?;
        println!("single client via Murmur: p50 {:.3} ms", single.p50_ms);
        let _ = fake_child.kill();
        return Ok(());
    }
    let single_direct = load(&direct, Call::Models, 1).await?;
    let single_proxy = load(&proxy, Call::Models, 1).await?;
    let models_direct = load(&direct, Call::Models, CLIENTS).await?;
    let models_proxy = load(&proxy, Call::Models, CLIENTS).await?;
    let speech_direct = load(&direct, Call::Speech, CLIENTS).await?;
    let speech_proxy = load(&proxy, Call::Speech, CLIENTS).await?;
    let hwm = rss_kib(pid, "VmHWM:").unwrap_or(0);
    let rss = rss_kib(pid, "VmRSS:").unwrap_or(0);

    println!(
        "{:<34} {:>12} {:>12} {:>8}",
        "", "direct", "via Murmur", "ratio"
    );
    let row = |name: &str, d: f64, p: f64, unit: &str| {
        println!(
            "{:<34} {:>9.1} {unit:<2} {:>9.1} {unit:<2} {:>7.2}x",
            name,
            d,
            p,
            p / d
        );
    };
    row(
        "GET /v1/models, 8 clients: req/s",
        models_direct.requests_per_sec,
        models_proxy.requests_per_sec,
        "",
    );
    row(
        "  p50 latency (ms)",
        models_direct.p50_ms,
        models_proxy.p50_ms,
        "",
    );
    row(
        "  p99 latency (ms)",
        models_direct.p99_ms,
        models_proxy.p99_ms,
        "",
    );
    row(
        "GET /v1/models, 1 client: req/s",
        single_direct.requests_per_sec,
        single_proxy.requests_per_sec,
        "",
    );
    row(
        "  p50 latency (ms)",
        single_direct.p50_ms,
        single_proxy.p50_ms,
        "",
    );
    row(
        "speech 256 KiB, 8 clients: req/s",
        speech_direct.requests_per_sec,
        speech_proxy.requests_per_sec,
        "",
    );
    row(
        "  MB/s",
        speech_direct.mb_per_sec,
        speech_proxy.mb_per_sec,
        "",
    );
    row(
        "  p50 latency (ms)",
        speech_direct.p50_ms,
        speech_proxy.p50_ms,
        "",
    );
    println!();
    println!(
        "added p50 latency, 1 client: {:.3} ms",
        single_proxy.p50_ms - single_direct.p50_ms
    );
    println!(
        "murmurd RSS after load: {:.1} MB (peak {:.1} MB)",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );

    drop(murmurd);
    let _ = fake_child.kill();
    let _ = fake_child.wait();
    Ok(())
}
