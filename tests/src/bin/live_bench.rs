//! Live transcription on this machine: Piper's speech played in real time (40 ms frames, 1 s of
//! silence before, 2 s after) into `/v1/realtime?intent=transcription`, the real Whisper
//! engine (`tiny.en`, int8) behind it. Per round: time from the first voiced frame sent to the
//! first delta, deltas per second of speech, time from the last voiced frame sent to
//! `.completed`; against the floor, faster-whisper transcribing the same utterance directly
//! (in the engine's own interpreter) in the same run. Then murmurd's memory over 50 sessions.
//!
//! Goals (issue 35): ≥ 1 delta per 2 s of speech; `.completed` ≤ the silence window + one
//! direct pass of the utterance; memory flat over 50 sessions.
//!
//! Peers (`whisperlivekit`, `whisper-live`) are not measured: both pull torch (2 GB+) to run
//! here. `make bench`; prints figures only.

#![allow(clippy::print_stdout, reason = "a benchmark report is printed")]

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use murmur_tests::listening::{Stage, speak, wer};
use murmur_tests::live::{append, connect, warm_murmurd};
use murmur_tests::measure::{median, own_rss_mb, rss_mb};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const SAID: &str = "The library opens early in the morning and closes late in the evening, \
                    every day except on public holidays, when it stays closed.";
const ROUNDS: usize = 5;

const SESSIONS: usize = 50;
/// OpenAI's default silence window, the one the rounds use.
const SILENCE_MS: u64 = 500;

struct Round {
    first_delta: f64,
    stopped_after: f64,
    deltas_per_sec: f64,
    completed_after: f64,
    wer: f64,
}

/// Where speech is in 24 kHz s16le PCM: the first and last sample louder than -40 dBFS, in
/// seconds.
fn voiced(pcm: &[u8]) -> (f64, f64) {
    let loud: Vec<usize> = pcm
        .chunks_exact(2)
        .enumerate()
        .filter(|(_, s)| i16::from_le_bytes([s[0], s[1]]).unsigned_abs() > 328)
        .map(|(i, _)| i)
        .collect();
    let at = |i: usize| i as f64 / 24_000.0;
    (
        at(*loud.first().unwrap_or(&0)),
        at(*loud.last().unwrap_or(&0)),
    )
}

/// One session: the audio played in real time; every event with its time since the first
/// frame.
async fn session(url: &str, audio: &[u8], real_time: bool) -> Result<Vec<(f64, Value)>> {
    let socket = connect(url, &[])
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let (mut sink, mut stream) = socket.split();
    let configure = json!({"type": "session.update", "session": {"type": "transcription",
        "audio": {"input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": SILENCE_MS}}}}});
    sink.send(Message::text(configure.to_string())).await?;
    let started = Instant::now();
    let frames: Vec<Vec<u8>> = audio.chunks(24_000 * 2 / 25).map(<[u8]>::to_vec).collect();
    let sender = tokio::spawn(async move {
        for (i, frame) in frames.iter().enumerate() {
            let text = append(frame).to_string();
            if sink.send(Message::text(text)).await.is_err() {
                break;
            }
            if real_time {
                tokio::time::sleep_until(
                    (started + Duration::from_millis(40 * (i as u64 + 1))).into(),
                )
                .await;
            }
        }
        sink
    });
    let mut events = Vec::new();
    let (mut committed, mut completed) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs_f64(audio.len() as f64 / 48_000.0 + 60.0);
    while Instant::now() < deadline {
        if sender.is_finished() && committed > 0 && completed == committed {
            break;
        }
        let Ok(message) = tokio::time::timeout(Duration::from_millis(200), stream.next()).await
        else {
            continue;
        };
        let Some(message) = message else { break };
        let Message::Text(text) = message? else {
            continue;
        };
        let event: Value = serde_json::from_str(&text)?;
        let kind = event["type"].as_str().unwrap_or_default().to_string();
        events.push((started.elapsed().as_secs_f64(), event));
        match kind.as_str() {
            "input_audio_buffer.committed" => committed += 1,
            "conversation.item.input_audio_transcription.completed" => completed += 1,
            "error" => bail!(
                "error event: {}",
                events.last().map(|e| &e.1).unwrap_or(&Value::Null)
            ),
            _ => {}
        }
    }
    let mut sink = sender.await?;
    let _ = sink.close().await;
    Ok(events)
}

fn of<'a>(events: &'a [(f64, Value)], kind: &str) -> Vec<&'a (f64, Value)> {
    events.iter().filter(|(_, e)| e["type"] == kind).collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let stage = Stage::new().await;
    let murmurd = warm_murmurd(&stage, "idle_unload_secs = 0\n").await;
    let speech = speak(&murmurd, SAID, "pcm").await.to_vec();
    let (onset, end) = voiced(&speech);
    let mut audio = vec![0u8; 48_000];
    audio.extend_from_slice(&speech);
    audio.extend(std::iter::repeat_n(0u8, 96_000));
    let (onset, end) = (1.0 + onset, 1.0 + end);
    let url = murmurd
        .url("/v1/realtime?intent=transcription")
        .replacen("http://", "ws://", 1);
    let pcm16k = murmur_core::transcription::decode::decode(
        bytes::Bytes::from(murmur_tests::wav::write(
            24_000,
            &speech
                .chunks_exact(2)
                .map(|s| i16::from_le_bytes([s[0], s[1]]))
                .collect::<Vec<_>>(),
        )),
        60,
    )?;
    let utterance = pcm16k.pcm_bytes(0..pcm16k.samples.len());
    println!(
        "live-bench: Piper's {:.1} s sentence ({:.1} s voiced) in real time, 40 ms frames, tiny.en int8, {} rounds",
        speech.len() as f64 / 48_000.0,
        end - onset,
        ROUNDS
    );

    let mut rounds = Vec::new();
    if std::env::var_os("LIVE_BENCH_DEBUG").is_some() {
        for i in 0..3 {
            let t = Instant::now();
            let events = session(&url, &audio, false).await?;
            println!(
                "session {i}: {:.2} s, {:?}",
                t.elapsed().as_secs_f64(),
                events
                    .iter()
                    .map(|(t, e)| format!("{t:.2} {}", e["type"]))
                    .collect::<Vec<_>>()
            );
        }
        return Ok(());
    }
    for _ in 0..ROUNDS {
        let events = session(&url, &audio, true).await?;
        let deltas = of(&events, "conversation.item.input_audio_transcription.delta");
        let completed = of(
            &events,
            "conversation.item.input_audio_transcription.completed",
        );
        let first = deltas.first().context("no delta")?.0;
        let during = deltas.iter().filter(|(t, _)| *t <= end).count();
        let last = completed.last().context("no transcript")?.0;
        let stopped = of(&events, "input_audio_buffer.speech_stopped")
            .last()
            .context("no speech_stopped")?
            .0;
        let heard: Vec<&str> = completed
            .iter()
            .filter_map(|(_, e)| e["transcript"].as_str())
            .collect();
        rounds.push(Round {
            first_delta: first - onset,
            stopped_after: stopped - end,
            deltas_per_sec: during as f64 / (end - onset),
            completed_after: last - end,
            wer: wer(SAID, &heard.join(" ")),
        });
    }
    if std::env::var_os("LIVE_BENCH_TRACE").is_some() {
        for line in murmurd.stderr().lines().filter(|l| l.contains("live: ")) {
            println!("{line}");
        }
    }
    let model = murmurd
        .data_dir()
        .join("models/whisper/Systran--faster-whisper-tiny.en");
    let direct = median(murmur_tests::listening::whisper_direct(
        &murmurd, &model, &utterance, ROUNDS,
    )?);
    let pick = |f: fn(&Round) -> f64| median(rounds.iter().map(f).collect());
    let (first, rate, after, errors) = (
        pick(|r| r.first_delta),
        pick(|r| r.deltas_per_sec),
        pick(|r| r.completed_after),
        pick(|r| r.wer),
    );
    println!("  first voiced frame → first delta    {first:.2} s (median)");
    println!(
        "  deltas per second of speech          {rate:.2}  (goal ≥ 0.5: {})",
        if rate >= 0.5 { "met" } else { "not met" }
    );
    let bound = SILENCE_MS as f64 / 1000.0 + direct;
    println!(
        "  last voiced frame → .completed       {after:.2} s  (goal ≤ silence {:.2} s + one direct pass {direct:.2} s = {bound:.2} s: {})",
        SILENCE_MS as f64 / 1000.0,
        if after <= bound { "met" } else { "not met" }
    );
    let stopped = pick(|r| r.stopped_after);
    println!(
        "    of which: the VAD's speech_stopped {stopped:.2} s after it, the last decode {:.2} s",
        after - stopped
    );
    println!(
        "  word errors                          {:.1} %",
        errors * 100.0
    );

    // Memory: sessions back to back (audio sent as fast as it goes; one turn each).
    let pid = murmurd.child.id();
    let (before, tree_before) = (own_rss_mb(pid), rss_mb(pid));
    let mut after10 = 0.0;
    for i in 0..SESSIONS {
        session(&url, &audio, false).await?;
        if i == 9 {
            after10 = own_rss_mb(pid);
        }
    }
    let (after, tree_after) = (own_rss_mb(pid), rss_mb(pid));
    println!(
        "  murmurd's RSS over {SESSIONS} sessions      {before:.1} MB before, {after10:.1} MB after 10, {after:.1} MB after {SESSIONS} (goal: flat after warm-up: {})",
        if after - after10 <= 5.0 {
            "met"
        } else {
            "not met"
        }
    );
    println!(
        "    with its engines (Piper, Whisper)  {tree_before:.0} MB before, {tree_after:.0} MB after"
    );
    Ok(())
}
