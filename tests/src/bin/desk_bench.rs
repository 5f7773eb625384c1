//! Murmur at the desk, timed at a real one (Xvfb, openbox, PulseAudio; `murmur_tests::desk`):
//!
//! - dictation: the shortcut released → the last character inserted into a focused xterm
//!   (typed), for a ~5 s and a ~20 s utterance, beside faster-whisper transcribing the same
//!   audio directly (in the engine's own Python) in the same run;
//! - read aloud: the shortcut pressed → the first sound at the speakers, beside the engine's
//!   first audio for the same text asked over HTTP.
//!
//! `make bench`. Prints figures only.

#![allow(clippy::print_stdout, reason = "a benchmark report is printed")]

use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use http_body_util::BodyExt;
use murmur_core::audio::resample::Resampler;
use murmur_tests::desk::{Desk, dictations, focused_window, ready_app, speech_file, xterm};
use murmur_tests::listening::{Stage, speak, wer};
use murmur_tests::measure::median;
use murmur_tests::{Client, Murmurd};

const ROUNDS: usize = 3;

/// About 5 s and 20 s of Piper's speech: a quick note, and a paragraph.
const SHORT: &str =
    "Please send the quarterly report to Maria before Friday afternoon, and copy the whole team.";
const LONG: &str = "Murmur gives every program on this computer a private speech server. It \
    speaks with a clear voice and now it listens as well. The weather today is calm and bright, \
    with a gentle wind from the west. Please remember to water the garden before dinner, and \
    close the windows if it starts to rain tonight. The library opens again on Monday morning \
    at nine.";

/// 24 kHz speech as the 16 kHz s16le faster-whisper is given.
fn pcm16k(pcm24k: &[u8]) -> Result<Vec<u8>> {
    let samples: Vec<f32> = pcm24k
        .chunks_exact(2)
        .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
        .collect();
    let mut resampler = Resampler::new(24_000, 16_000)?;
    let mut out = Vec::new();
    resampler.push(&samples, &mut out)?;
    resampler.finish(&mut out)?;
    Ok(out
        .iter()
        .flat_map(|s| ((s.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes())
        .collect())
}

/// One dictation typed into the xterm appending to `typed`: (release → text ready, release →
/// last character in the file, WER).
async fn dictation(
    app: &Murmurd,
    desk: &Desk,
    file: &std::path::Path,
    secs: f64,
    typed: &std::path::Path,
    said: &str,
) -> Result<(f64, f64, f64)> {
    let before_len = std::fs::metadata(typed).map_or(0, |m| m.len());
    let before = dictations(app).await.len();
    let mut player = desk.say_into_microphone(file);
    tokio::time::sleep(Duration::from_millis(700)).await;
    desk.xdotool(&["keydown", "ctrl+alt+space"]);
    tokio::time::sleep(Duration::from_secs_f64(secs + 0.3 + 0.15)).await;
    desk.xdotool(&["keyup", "space", "alt", "ctrl"]);
    let released = SystemTime::now();
    let _ = player.wait();
    let until = Instant::now() + Duration::from_secs(120);
    let kept = loop {
        let kept = dictations(app).await;
        if kept.len() > before {
            break kept[0].clone();
        }
        anyhow::ensure!(Instant::now() < until, "no dictation was kept");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let text = kept["text"].as_str().context("text")?.to_string();
    // The dictation is kept once it is typed: the file has all of it.
    let grown = std::fs::metadata(typed)?.len() - before_len;
    anyhow::ensure!(
        grown as usize >= text.len(),
        "only {grown} of {} bytes typed",
        text.len()
    );
    let last = std::fs::metadata(typed)?.modified()?;
    let inserted = last.duration_since(released)?.as_secs_f64() * 1000.0;
    let ready = kept["text_ms"].as_f64().context("text_ms")?;
    Ok((ready, inserted, wer(said, &text)))
}

/// Milliseconds to the first byte of speech for `text` over HTTP.
async fn first_audio(app: &Murmurd, text: &str) -> Result<f64> {
    let body = serde_json::json!({ "input": text, "voice": "joe", "response_format": "pcm" });
    let request = http::Request::post(app.url("/v1/audio/speech"))
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.to_string(),
        )))?;
    let asked = Instant::now();
    let mut response = Client::new().send(request).await;
    let first = loop {
        let frame = response.body_mut().frame().await.context("no audio")??;
        if frame.data_ref().is_some_and(|d| !d.is_empty()) {
            break asked.elapsed().as_secs_f64() * 1000.0;
        }
    };
    while response.body_mut().frame().await.is_some() {}
    Ok(first)
}

#[tokio::main]
async fn main() -> Result<()> {
    let stage = Stage::new().await;
    let mut desk = Desk::start();
    let app = ready_app(&stage, &desk, "insert = \"type\"\n").await;
    let typed = desk.dir.path().join("typed.txt");
    let terminal = xterm(
        &desk,
        "bench-target",
        &format!("stty raw -echo; cat >> {}", typed.display()),
    );
    focused_window(&mut desk, "bench-target", terminal);

    println!("Dictation (tiny.en, typed into xterm), median of {ROUNDS}:");
    println!(
        "  {:<10} {:>14} {:>16} {:>18} {:>6}",
        "utterance", "text ready", "text inserted", "faster-whisper", "WER"
    );
    for (name, said) in [("short", SHORT), ("long", LONG)] {
        let (file, secs) = speech_file(&app, &desk, said, &format!("{name}.wav")).await;
        let (mut ready, mut inserted, mut errors) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let (r, i, e) = dictation(&app, &desk, &file, secs, &typed, said).await?;
            ready.push(r);
            inserted.push(i);
            errors.push(e);
        }
        let pcm = pcm16k(&speak(&app, said, "pcm").await)?;
        let model = app
            .data_dir()
            .join("models/whisper/Systran--faster-whisper-tiny.en");
        let direct = murmur_tests::listening::whisper_direct(&app, &model, &pcm, ROUNDS)?;
        println!(
            "  {:<10} {:>11.0} ms {:>13.0} ms {:>15.0} ms {:>6.2}",
            format!("{secs:.1} s"),
            median(ready),
            median(inserted),
            median(direct) * 1000.0,
            median(errors)
        );
    }
    println!(
        "  (text ready: release → transcript; text inserted: release → its last character in \
         the window; faster-whisper: the whole utterance transcribed directly, the floor)"
    );

    println!("\nRead aloud (Piper), median of {ROUNDS}:");
    let text = SHORT;
    let mut primary = desk
        .command("xclip")
        .args(["-selection", "primary", "-quiet"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    {
        use std::io::Write;
        primary
            .stdin
            .take()
            .context("stdin")?
            .write_all(text.as_bytes())?;
    }
    desk.keep(primary);
    let (mut sound, mut engine) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        engine.push(first_audio(&app, text).await?);
        let mut speakers = desk.listen_to_speakers();
        speakers.collect(Duration::from_millis(300));
        let pressed = Instant::now();
        desk.xdotool(&["key", "ctrl+alt+r"]);
        let until = Instant::now() + Duration::from_secs(30);
        while speakers.first_sound().is_none() && Instant::now() < until {
            speakers.collect(Duration::from_millis(20));
        }
        let first = speakers.first_sound().context("nothing was heard")?;
        sound.push((first - pressed).as_secs_f64() * 1000.0);
        // Let it finish before the next round.
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until
            && speakers
                .last_sound()
                .is_none_or(|at| at.elapsed() < Duration::from_secs(1))
        {
            speakers.collect(Duration::from_millis(100));
        }
    }
    println!(
        "  shortcut → first sound at the speakers {:.0} ms; the engine's first audio for the \
         same text over HTTP {:.0} ms (Murmur adds {:+.0} ms: the selection, the speakers)",
        median(sound.clone()),
        median(engine.clone()),
        median(sound) - median(engine)
    );
    Ok(())
}
