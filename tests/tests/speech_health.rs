//! Ready means the engine can speak, and an engine whose speech is stuck is seen: the real
//! `murmurd` supervising the fault-injecting engine (tests/fixtures/fake-engine), whose
//! `/v1/models` keeps answering 200 while its speech path is dead, as mlx_audio.server's does
//! when its inference thread has died.

use std::time::{Duration, Instant};

use murmur_core::status::State;
use murmur_tests::murmurd::{alive, fake_engine_config};
use murmur_tests::supervised::{QUICK, failed, pid, speak};
use murmur_tests::{Client, Murmurd};

#[tokio::test]
async fn an_engine_that_answers_its_probe_but_cannot_speak_is_a_failed_start() {
    // 200 with no audio to every speech request, 200 to every probe.
    let murmurd = Murmurd::start(&fake_engine_config(
        &["--empty", "--say", "front end missing"],
        QUICK,
    ));
    let reply = speak(&murmurd, "hello").await;
    assert_eq!(reply.status, 503, "{:?}", reply.body);
    let error = reply.json();
    assert_eq!(error["error"]["code"], "engine_not_ready");
    let message = error["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("could not speak"), "{message}");
    assert!(
        message.contains("front end missing"),
        "the engine's last lines: {message}"
    );

    let status = murmurd
        .wait_for_engine("failed", Duration::from_secs(15), failed)
        .await;
    assert!(
        status.error.as_ref().is_some_and(|e| e.hint.is_some()),
        "{status:?}"
    );
    assert_eq!(
        status.engine.pid, None,
        "the engine was stopped: {status:?}"
    );
}

#[tokio::test]
async fn speech_that_gets_no_audio_restarts_the_engine_and_no_request_hangs() {
    // The readiness speech (the first) works; every speech request after it hangs.
    let config = format!(
        "{}\n{QUICK}\n[proxy]\nfirst_audio_timeout_secs = 2\nupstream_timeout_secs = 60\n",
        fake_engine_config(&["--mute-after-speech", "1"], "").trim_end()
    );
    let murmurd = Murmurd::start(&config);
    let client = Client::new();
    murmurd
        .control_post("/murmur/api/engines/speech/start")
        .await;
    let ready = murmurd
        .wait_for_engine("ready", Duration::from_secs(15), |s| {
            s.state == State::Ready
        })
        .await;
    let stuck = pid(&ready);

    // Two clients: one in flight, one queued behind it (one request at a time).
    let url = murmurd.url("/v1/audio/speech");
    let started = Instant::now();
    let (first, second) = tokio::join!(
        client.post_json(&url, r#"{"input":"one"}"#),
        client.post_json(&url, r#"{"input":"two"}"#),
    );
    let took = started.elapsed();
    for reply in [&first, &second] {
        assert_eq!(reply.status, 503, "{:?}", reply.body);
        assert_eq!(reply.error_code(), "engine_stuck");
        assert!(reply.header("retry-after").is_some());
    }
    assert!(
        took < Duration::from_secs(30),
        "bounded by the first-audio timeout, not the 60 s upstream one: {took:?}"
    );

    let restarted = murmurd
        .wait_for_engine("restarted", Duration::from_secs(20), |s| {
            s.state == State::Ready && s.engine.pid != Some(stuck)
        })
        .await;
    assert!(restarted.restarts.total >= 1, "{restarted:?}");
    assert!(!alive(stuck), "the stuck engine was stopped");
    let log = murmurd.engine_log();
    assert!(log.contains("engine stuck"), "{log}");
}
