//! Proxy overhead benchmark: a fast fake engine on loopback, measured directly, through nginx,
//! through a bare hyper proxy ([`murmur_tests::hyper_alone`]: the floor for a proxy built on
//! hyper) and through a real `murmurd` (release build), in the same run, so the ratios are fair
//! on a noisy machine. Besides latency and throughput it counts each proxy's CPU time per
//! forwarded GET (its processes' scheduler time over the 8-client run), which the machine's
//! other work disturbs less.
//!
//! `make bench` (or `cargo run --release -p murmur-tests --bin proxy-bench`). With
//! `MURMURD_BASELINE=path/to/murmurd` (another build, say main's), that build is measured too,
//! beside this one, in the same rounds: how a change to the proxy is judged. Prints figures
//! only; it asserts nothing, because timing on a shared machine is not a test.

#![allow(clippy::print_stdout, reason = "a benchmark report is printed")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use murmur_tests::nginx::Nginx;

#[path = "proxy_bench/children.rs"]
mod children;

use children::{serve_fake, serve_hyper_alone, spawn_child};

const CLIENTS: usize = 8;
const RUN: Duration = Duration::from_secs(2);
/// Every path is measured this many times, in turn (each round in another order); each figure
/// is the median of its rounds (the machine is shared: a burst of other work lands on one
/// round, not on one path).
const ROUNDS: usize = 5;
const WARMUP: Duration = Duration::from_millis(500);
const SPEECH_BYTES: usize = 256 * 1024;

type Http = Client<HttpConnector, Full<Bytes>>;

#[derive(Clone, Copy)]
enum Call {
    /// A GET Murmur forwards as it is (`/probe` on the fake engine): the proxy alone.
    Get,
    /// `GET /v1/models`: waits for the engine, and Murmur adds the transcription model.
    Models,
    Speech,
}

struct Figures {
    requests_per_sec: f64,
    mb_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// The proxy's CPU time per request, in µs (NaN for the direct path).
    cpu_us: f64,
}

/// Whose CPU time is the proxy's.
#[derive(Clone, Copy)]
enum Proxy {
    /// No proxy: the direct path.
    None,
    /// A process and its children (nginx's workers).
    Tree(u32),
    /// One process alone (a `murmurd` whose children are the engine).
    Alone(u32),
}

impl Proxy {
    fn cpu_secs(self) -> f64 {
        match self {
            Self::None => f64::NAN,
            Self::Tree(pid) => murmur_tests::measure::cpu_secs(pid),
            Self::Alone(pid) => murmur_tests::measure::own_cpu_secs(pid),
        }
    }
}

async fn once(client: &Http, base: &str, call: Call) -> Result<usize> {
    let request = match call {
        Call::Get => http::Request::get(format!("{base}/probe")).body(Full::new(Bytes::new()))?,
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
async fn load(base: &str, call: Call, clients: usize, proxy: Proxy) -> Result<Figures> {
    let client: Http = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let warm_until = Instant::now() + WARMUP;
    while Instant::now() < warm_until {
        once(&client, base, call).await?;
    }
    let base: Arc<str> = base.into();
    let cpu_before = proxy.cpu_secs();
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
    let cpu = proxy.cpu_secs() - cpu_before;
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
        cpu_us: cpu * 1e6 / latencies.len() as f64,
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

/// One way to reach the fake engine, and the figures measured through it.
struct Path {
    name: &'static str,
    get_1: Figures,
    get_n: Figures,
    models_n: Figures,
    speech_n: Figures,
}

async fn measure(name: &'static str, base: &str, proxy: Proxy) -> Result<Path> {
    Ok(Path {
        name,
        get_1: load(base, Call::Get, 1, proxy).await?,
        get_n: load(base, Call::Get, CLIENTS, proxy).await?,
        models_n: load(base, Call::Models, CLIENTS, proxy).await?,
        speech_n: load(base, Call::Speech, CLIENTS, proxy).await?,
    })
}

/// Each figure's median over a path's rounds.
fn median(rounds: Vec<Path>) -> Path {
    let mid = |f: &dyn Fn(&Path) -> f64| {
        let mut values: Vec<f64> = rounds.iter().map(f).collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let figures = |f: &dyn Fn(&Path) -> &Figures| Figures {
        requests_per_sec: mid(&|p| f(p).requests_per_sec),
        mb_per_sec: mid(&|p| f(p).mb_per_sec),
        p50_ms: mid(&|p| f(p).p50_ms),
        p99_ms: mid(&|p| f(p).p99_ms),
        cpu_us: mid(&|p| f(p).cpu_us),
    };
    Path {
        name: rounds[0].name,
        get_1: figures(&|p| &p.get_1),
        get_n: figures(&|p| &p.get_n),
        models_n: figures(&|p| &p.models_n),
        speech_n: figures(&|p| &p.speech_n),
    }
}

fn murmurd_config(engine: &str) -> String {
    format!("[proxy]\nmax_concurrent_requests = {CLIENTS}\nmax_queue = 64\n{engine}")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--fake-upstream") {
        return serve_fake().await;
    }
    if let [_, flag, upstream] = args.as_slice()
        && flag == "--hyper-alone"
    {
        return serve_hyper_alone(upstream).await;
    }
    let (mut fake_child, fake_url) = spawn_child(&["--fake-upstream"])?;
    let (mut hyper_child, hyper_url) = spawn_child(&["--hyper-alone", &fake_url])?;
    let external_dir = tempfile::tempdir()?;
    std::fs::write(
        external_dir.path().join("config.toml"),
        murmurd_config(&format!(
            "[engine]\nid = \"external\"\nurl = \"{fake_url}\"\n"
        )),
    )?;
    let external = murmur_tests::murmurd::Quiet::spawn(external_dir.path(), &[])?;
    // The same fake engine, run and watched by Murmur's supervisor.
    let supervised_dir = tempfile::tempdir()?;
    let me = std::env::current_exe()?.display().to_string();
    std::fs::write(
        supervised_dir.path().join("config.toml"),
        murmurd_config(&format!(
            "[engine]\nid = \"custom\"\n[engine.custom]\ncommand = [{me:?}, \"--fake-upstream\", \"--port\", \"{{port}}\"]\nprobe_path = \"/probe\"\n"
        )),
    )?;
    let supervised = murmur_tests::murmurd::Quiet::spawn(supervised_dir.path(), &[])?;
    // The baseline build serves the same engine as "Murmur, external", from a data dir of its own.
    let baseline_dir = tempfile::tempdir()?;
    let baseline = match std::env::var_os("MURMURD_BASELINE") {
        Some(binary) => {
            std::fs::copy(
                external_dir.path().join("config.toml"),
                baseline_dir.path().join("config.toml"),
            )?;
            Some(murmur_tests::murmurd::Quiet::spawn_binary(
                std::path::Path::new(&binary),
                baseline_dir.path(),
                &[],
            )?)
        }
        None => None,
    };
    let nginx = Nginx::start(&fake_url, "")?;
    println!(
        "murmurd: listening {:.1} ms after spawn (debug builds are slower; use --release)",
        external.listening_after.as_secs_f64() * 1000.0
    );
    println!(
        "machine: {} cores; {CLIENTS} concurrent clients; {} s per run; medians of {ROUNDS} rounds taken in turn",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        RUN.as_secs()
    );
    if nginx.is_none() {
        println!("nginx: not installed, left out (scripts/install-deps.sh bench installs it)");
    }
    println!();

    let mut bases = vec![("direct", fake_url.clone(), Proxy::None)];
    if let Some(nginx) = &nginx {
        bases.push(("nginx", nginx.base.clone(), Proxy::Tree(nginx.pid())));
    }
    bases.push(("hyper alone", hyper_url, Proxy::Alone(hyper_child.id())));
    bases.push((
        "Murmur, external",
        external.base.clone(),
        Proxy::Alone(external.child.id()),
    ));
    bases.push((
        "Murmur, supervised",
        supervised.base.clone(),
        Proxy::Alone(supervised.child.id()),
    ));
    if let Some(baseline) = &baseline {
        bases.push((
            "baseline, external",
            baseline.base.clone(),
            Proxy::Alone(baseline.child.id()),
        ));
    }
    let mut rounds: Vec<Vec<Path>> = bases.iter().map(|_| Vec::new()).collect();
    for round in 0..ROUNDS {
        // Each round starts one path further on: no path always follows the same one (which
        // CPU the last one left warm, what it left in the caches).
        for k in 0..bases.len() {
            let i = (round + k) % bases.len();
            let (name, base, proxy) = &bases[i];
            rounds[i].push(measure(name, base, *proxy).await?);
        }
    }
    let paths: Vec<Path> = rounds.into_iter().map(median).collect();
    let pid = external.child.id();
    let hwm = rss_kib(pid, "VmHWM:").unwrap_or(0);
    let rss = rss_kib(pid, "VmRSS:").unwrap_or(0);

    print!("{:<36}", "");
    for path in &paths {
        print!(" {:>19}", path.name);
    }
    println!();
    let row = |name: &str, figure: &dyn Fn(&Path) -> f64, digits: usize| {
        print!("{name:<36}");
        for path in &paths {
            print!(" {:>19.digits$}", figure(path));
        }
        println!();
    };
    row("GET (forwarded), 1 client: p50 ms", &|p| p.get_1.p50_ms, 3);
    row(
        "GET (forwarded), 8 clients: req/s",
        &|p| p.get_n.requests_per_sec,
        0,
    );
    row("  p50 ms", &|p| p.get_n.p50_ms, 3);
    row("  p99 ms", &|p| p.get_n.p99_ms, 3);
    row("  proxy CPU per request, us", &|p| p.get_n.cpu_us, 1);
    row(
        "GET /v1/models, 8 clients: req/s",
        &|p| p.models_n.requests_per_sec,
        0,
    );
    row("  p50 ms", &|p| p.models_n.p50_ms, 3);
    row(
        "speech 256 KiB, 8 clients: MB/s",
        &|p| p.speech_n.mb_per_sec,
        0,
    );
    row("  p50 ms", &|p| p.speech_n.p50_ms, 3);
    println!();
    let direct = &paths[0];
    let against = |name: &str, path: &Path| {
        paths
            .iter()
            .find(|p| p.name == name && p.name != path.name)
            .map(|other| {
                format!(
                    ", {:.2}x {name}",
                    path.get_n.requests_per_sec / other.get_n.requests_per_sec
                )
            })
            .unwrap_or_default()
    };
    for path in &paths[1..] {
        println!(
            "{:<20} adds {:>4.0} us to a GET's p50 (1 client); GET throughput {:.2}x direct{}{}{}",
            path.name,
            (path.get_1.p50_ms - direct.get_1.p50_ms) * 1000.0,
            path.get_n.requests_per_sec / direct.get_n.requests_per_sec,
            against("nginx", path),
            against("hyper alone", path),
            against("baseline, external", path),
        );
    }
    println!(
        "murmurd (external) RSS after load: {:.1} MB (peak {:.1} MB)",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );

    drop(nginx);
    drop(external);
    drop(hyper_child.stdin.take());
    let _ = hyper_child.wait();
    drop(supervised);
    let _ = fake_child.kill();
    let _ = fake_child.wait();
    Ok(())
}
