//! Murmur's Wyoming server against the servers Home Assistant users run today, in one run, same
//! voice and model: `wyoming-piper` 2.5.2 (joe) — time to the first `audio-chunk` for a
//! three-sentence text — and `wyoming-faster-whisper` 3.8.1 (`--model` the tiny.en folder) —
//! time from `audio-stop` to `transcript` for Piper's 15 s paragraph, sent at 16 kHz in 100 ms
//! chunks. Each measured with the real `wyoming` client library, rounds in turn, after a
//! warm-up request each.
//!
//! `make bench`. Prints figures only.

#![allow(clippy::print_stdout, reason = "a benchmark report is printed")]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use murmur_tests::listening::{PARAGRAPH, Stage, speak, wer};
use murmur_tests::measure::median;
use murmur_tests::tools::{whisper_tiny_en, wyoming_client, wyoming_peers};

const THREE: &str = "The kitchen light is on. The front door is locked. It will rain tonight.";
const ROUNDS: usize = 5;

/// A peer server, killed when dropped.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_listening(port: u16) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if Instant::now() > deadline {
            bail!("nothing listens on {port}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

async fn first_chunk(port: u16) -> Result<f64> {
    let port = port.to_string();
    let answer = wyoming_client(&["127.0.0.1", &port, "synthesize", THREE]).await;
    answer["first_chunk_s"].as_f64().context("no audio")
}

async fn transcript(port: u16, wav: &str) -> Result<(f64, f64)> {
    let port = port.to_string();
    let answer = wyoming_client(&["127.0.0.1", &port, "transcribe", wav, "16000"]).await;
    let text = answer["text"].as_str().context("no transcript")?;
    Ok((
        answer["after_stop_s"].as_f64().context("no time")?,
        wer(PARAGRAPH, text),
    ))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let (python, joe) = wyoming_peers().await;
    let tiny = whisper_tiny_en().await;
    let stage = Stage::new().await;
    let murmur_port = murmur_tests::free_port();
    let murmurd = stage
        .murmurd(&format!(
            "\n[wyoming]\nenabled = true\nport = {murmur_port}\n"
        ))
        .await;
    let work = tempfile::tempdir()?;
    let piper_port = murmur_tests::free_port();
    let _piper = Peer(
        Command::new(&python)
            .args([
                "-m",
                "wyoming_piper",
                "--voice",
                "en_US-joe-medium",
                "--uri",
            ])
            .arg(format!("tcp://127.0.0.1:{piper_port}"))
            .arg("--data-dir")
            .arg(&joe)
            .arg("--download-dir")
            .arg(work.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let whisper_port = murmur_tests::free_port();
    let _whisper = Peer(
        Command::new(&python)
            .args([
                "-m",
                "wyoming_faster_whisper",
                "--language",
                "en",
                "--model",
            ])
            .arg(&tiny)
            .arg("--uri")
            .arg(format!("tcp://127.0.0.1:{whisper_port}"))
            .arg("--data-dir")
            .arg(work.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    wait_listening(piper_port).await?;
    wait_listening(whisper_port).await?;

    let audio = speak(&murmurd, PARAGRAPH, "wav").await;
    let parsed = murmur_tests::wav::parse(&audio);
    let wav = work.path().join("paragraph.wav");
    std::fs::write(&wav, murmur_tests::wav::write(parsed.rate, &parsed.samples))?;
    let wav = wav.to_string_lossy().into_owned();
    let seconds = parsed.samples.len() as f64 / f64::from(parsed.rate);

    // Warm-up: every engine loaded.
    for port in [murmur_port, piper_port] {
        first_chunk(port).await?;
    }
    for port in [murmur_port, whisper_port] {
        transcript(port, &wav).await?;
    }
    let (mut murmur_tts, mut piper_tts) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        murmur_tts.push(first_chunk(murmur_port).await?);
        piper_tts.push(first_chunk(piper_port).await?);
    }
    let (mut murmur_stt, mut whisper_stt, mut wers) = (Vec::new(), Vec::new(), (0.0, 0.0));
    for _ in 0..3 {
        let (secs, rate) = transcript(murmur_port, &wav).await?;
        murmur_stt.push(secs);
        wers.0 = rate;
        let (secs, rate) = transcript(whisper_port, &wav).await?;
        whisper_stt.push(secs);
        wers.1 = rate;
    }
    println!(
        "Wyoming: Murmur against the servers Home Assistant users run (median, rounds in turn)"
    );
    println!(
        "  synthesize, 3 sentences, joe: first audio-chunk  Murmur {:.3} s   wyoming-piper 2.5.2 {:.3} s",
        median(murmur_tts),
        median(piper_tts)
    );
    println!(
        "  transcribe {seconds:.1} s at 16 kHz, tiny.en: audio-stop → transcript  Murmur {:.2} s (WER {:.1} %)   wyoming-faster-whisper 3.8.1 {:.2} s (WER {:.1} %)",
        median(murmur_stt),
        wers.0 * 100.0,
        median(whisper_stt),
        wers.1 * 100.0
    );
    Ok(())
}
