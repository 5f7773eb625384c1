//! The proxy's streaming rules, through the real `murmurd` on real ports: an empty answer, a
//! response past its cap, an upstream failing mid-stream, clients that leave.

use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::AsyncReadExt;

use http::Method;
use http_body_util::BodyExt;
use murmur_tests::client::request;
use murmur_tests::proxied::{raw_speech, setup, wait_until};

#[tokio::test]
async fn an_empty_200_becomes_a_502() {
    let (_fake, murmurd, client) = setup("").await;
    let reply = client
        .post_json(
            &murmurd.url("/v1/audio/speech"),
            r#"{"input":"hi","fake":{"mode":"empty"}}"#,
        )
        .await;
    assert_eq!(reply.status, 502);
    assert_eq!(reply.error_code(), "empty_response");
}

#[tokio::test]
async fn responses_past_the_64_mib_cap_are_cut_off() {
    let (_fake, murmurd, client) = setup("").await;
    let body = format!(
        r#"{{"input":"hi","fake":{{"bytes":{}, "chunk":65536}}}}"#,
        65 * 1024 * 1024
    );
    let response = client
        .send(request(
            Method::POST,
            &murmurd.url("/v1/audio/speech"),
            body,
        ))
        .await;
    assert_eq!(
        response.status(),
        200,
        "the head is sent before the cap is reached"
    );
    let outcome = response.into_body().collect().await;
    assert!(
        outcome.is_err(),
        "a body past the cap must end in an error, not look complete"
    );
    assert!(
        murmurd.stderr().contains("max_response_bytes"),
        "the cut is logged"
    );

    // Just under the cap passes.
    let body = format!(
        r#"{{"input":"hi","fake":{{"bytes":{}, "chunk":65536}}}}"#,
        64 * 1024 * 1024
    );
    let reply = client
        .post_json(&murmurd.url("/v1/audio/speech"), &body)
        .await;
    assert_eq!(reply.body.len(), 64 * 1024 * 1024);
}

#[tokio::test]
async fn an_upstream_failure_mid_stream_aborts_the_client() {
    let (_fake, murmurd, client) = setup("").await;
    let body =
        r#"{"input":"hi","fake":{"mode":"fail_mid","bytes":200000,"chunk":10000,"delay_ms":10}}"#;
    let response = client
        .send(request(
            Method::POST,
            &murmurd.url("/v1/audio/speech"),
            body,
        ))
        .await;
    assert_eq!(response.status(), 200);
    let outcome = response.into_body().collect().await;
    assert!(outcome.is_err(), "a truncated body must not look complete");
}

#[tokio::test]
async fn a_client_that_leaves_cancels_the_upstream_stream() {
    let (fake, murmurd, _client) = setup("").await;
    let body = r#"{"input":"hi","fake":{"bytes":10000000,"chunk":1000,"delay_ms":20}}"#;
    let mut stream = raw_speech(&murmurd, body).await;
    let mut first = [0u8; 512];
    let n = stream.read(&mut first).await.expect("read the head");
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));
    drop(stream);

    wait_until(Duration::from_secs(5), || {
        fake.stats.cancelled.load(Ordering::SeqCst) > 0
    })
    .await;
    assert_eq!(
        fake.stats.cancelled.load(Ordering::SeqCst),
        1,
        "the engine stopped streaming to nobody"
    );
    assert_eq!(fake.stats.completed.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_client_that_leaves_before_the_answer_cancels_the_upstream_request() {
    let (fake, murmurd, _client) = setup("").await;
    let body = r#"{"input":"hi","fake":{"head_delay_ms":3000}}"#;
    let stream = raw_speech(&murmurd, body).await;
    wait_until(Duration::from_secs(2), || {
        fake.stats.in_flight.load(Ordering::SeqCst) > 0
    })
    .await;
    assert_eq!(
        fake.stats.in_flight.load(Ordering::SeqCst),
        1,
        "the engine got the request"
    );
    drop(stream);

    wait_until(Duration::from_millis(2500), || {
        fake.stats.cancelled.load(Ordering::SeqCst) > 0
    })
    .await;
    assert_eq!(
        fake.stats.cancelled.load(Ordering::SeqCst),
        1,
        "the engine's request was dropped before it answered"
    );
}
