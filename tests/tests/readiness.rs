//! The readiness gate and the concurrency gate, against an external engine that comes and
//! goes, through the real `murmurd`.

use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::future::join_all;
use murmur_core::status::State;
use murmur_tests::murmurd::external_config;
use murmur_tests::{Client, FakeUpstream, Murmurd, free_port};

/// Poll `check` every 10 ms until it holds; panics after 10 s.
async fn until<F: std::future::Future<Output = bool>>(what: &str, check: impl Fn() -> F) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn an_engine_that_is_down_gets_a_503_with_the_reason_then_recovers() {
    let port = free_port();
    let murmurd = Murmurd::start(&external_config(&format!("http://127.0.0.1:{port}"), ""));
    let client = Client::new();
    let url = murmurd.url("/v1/audio/speech");

    let reply = client.post_json(&url, r#"{"input":"hello"}"#).await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.error_code(), "engine_not_ready");
    assert_eq!(murmurd.engine().await.state, State::Stopped);
    let error = &reply.json()["error"];
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("not reachable")),
        "{error}"
    );
    assert_eq!(error["stage"], "probing");
    assert!(error["hint"].as_str().is_some(), "{error}");
    assert!(reply.header("retry-after").is_some());
    assert_eq!(client.get(&murmurd.url("/murmur/readyz")).await.status, 503);

    // Not ready: the probe fails, and nothing is cached.
    let fake = FakeUpstream::start_on(port).await;
    fake.set_ready(false);
    let reply = client.post_json(&url, r#"{"input":"hello"}"#).await;
    assert_eq!(reply.status, 503);
    assert!(
        reply.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("503"))
    );

    fake.set_ready(true);
    let reply = client.post_json(&url, r#"{"input":"hello"}"#).await;
    assert_eq!(reply.status, 200);
    assert_eq!(client.get(&murmurd.url("/murmur/readyz")).await.status, 200);
    let status = murmurd.engine().await;
    assert_eq!(
        (status.state, status.engine.id.as_str()),
        (State::Ready, "external")
    );
}

#[tokio::test]
async fn a_hundred_first_requests_share_one_start_attempt() {
    let fake = FakeUpstream::start().await;
    let murmurd = Murmurd::start(&external_config(
        &fake.url(),
        "[proxy]\nmax_concurrent_requests = 8\nmax_queue = 200\n",
    ));
    let client = Client::new();
    let url = murmurd.url("/v1/audio/speech");
    let replies = join_all((0..100).map(|i| {
        let client = client.clone();
        let url = url.clone();
        async move {
            client
                .post_json(&url, &format!(r#"{{"input":"request {i}"}}"#))
                .await
        }
    }))
    .await;
    assert!(
        replies.iter().all(|r| r.status == 200),
        "every request succeeds"
    );
    assert_eq!(
        fake.stats.probes.load(Ordering::SeqCst),
        1,
        "exactly one start attempt"
    );
    assert_eq!(fake.speech_bodies().len(), 100);
    assert!(
        fake.stats.max_in_flight.load(Ordering::SeqCst) <= 8,
        "the gate held"
    );
}

#[tokio::test]
async fn the_gate_keeps_arrival_order_and_turns_away_overflow() {
    let fake = FakeUpstream::start().await;
    let murmurd = Murmurd::start(&external_config(
        &fake.url(),
        "[proxy]\nmax_concurrent_requests = 1\nmax_queue = 3\n",
    ));
    let client = Client::new();
    let url = murmurd.url("/v1/audio/speech");
    // Warm up so the probe is out of the way.
    assert_eq!(
        client.post_json(&url, r#"{"input":"warm"}"#).await.status,
        200
    );

    let slow = r#"{"input":"first","fake":{"bytes":30000,"chunk":1000,"delay_ms":20}}"#;
    let mut tasks = vec![tokio::spawn({
        let (client, url) = (client.clone(), url.clone());
        async move { client.post_json(&url, slow).await }
    })];
    // The first holds the engine's only slot once the engine has it; each next one waits in
    // the queue before the one after it is sent.
    until("the first request reaches the engine", || async {
        fake.speech_bodies().iter().any(|b| b["input"] == "first")
    })
    .await;
    for (waiting, name) in (1..).zip(["second", "third", "fourth"]) {
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            client
                .post_json(&url, &format!(r#"{{"input":"{name}"}}"#))
                .await
        }));
        until(&format!("{waiting} waiting"), || async {
            murmurd.queued().await == waiting
        })
        .await;
    }
    let overflow = client.post_json(&url, r#"{"input":"fifth"}"#).await;
    assert_eq!(overflow.status, 503, "the queue is full");
    assert_eq!(overflow.error_code(), "engine_busy");
    assert!(overflow.header("retry-after").is_some());

    for task in tasks {
        assert_eq!(task.await.expect("task").status, 200);
    }
    let order: Vec<String> = fake
        .speech_bodies()
        .iter()
        .map(|b| b["input"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(order, ["warm", "first", "second", "third", "fourth"]);
    assert_eq!(fake.stats.max_in_flight.load(Ordering::SeqCst), 1);
}
