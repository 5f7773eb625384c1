//! What Murmur counts and how it reports it: the test phrase from the control API, then the
//! request counts and bytes in JSON and in the OpenMetrics text, read by the Prometheus
//! client's own parser.

use http::Method;
use murmur_tests::client::request;
use murmur_tests::murmurd::fake_engine_config;
use murmur_tests::supervised::QUICK;
use murmur_tests::{Client, Murmurd};
use serde_json::json;

#[tokio::test]
async fn speak_test_returns_audio_and_metrics_count_it() {
    let murmurd = Murmurd::start(&fake_engine_config(&[], QUICK));
    let reply = murmurd
        .control(
            Method::POST,
            "/murmur/api/speak-test",
            Some(&json!({"text": "testing"})),
            None,
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(&reply.body[..4], b"RIFF");
    let speech = Client::new()
        .post_json(&murmurd.url("/v1/audio/speech"), r#"{"input":"counted"}"#)
        .await;
    assert_eq!(speech.status, 200);
    let mut refused = request(
        Method::POST,
        &murmurd.url("/v1/audio/speech"),
        r#"{"input":""}"#,
    );
    refused.headers_mut().insert(
        "user-agent",
        "OpenAI/Python 1.99.9".parse().expect("header"),
    );
    assert_eq!(Client::new().exchange(refused).await.status, 400);

    let metrics = murmurd
        .control(Method::GET, "/murmur/api/metrics", None, None)
        .await
        .json();
    let rows = metrics["requests"].as_array().expect("rows");
    let speech_row = rows
        .iter()
        .find(|r| r["route"] == "/v1/audio/speech" && r["status"] == 200)
        .expect("a speech row");
    assert_eq!(speech_row["count"], 1);
    // The activity view: client requests only, newest first, with what the page shows.
    let recent = metrics["recent"].as_array().expect("recent");
    assert_eq!(recent.len(), 2, "{recent:#?}");
    assert_eq!(
        (&recent[0]["status"], &recent[0]["agent"]),
        (&json!(400), &json!("OpenAI/Python 1.99.9"))
    );
    let spoken = &recent[1];
    assert_eq!(
        (
            &spoken["path"],
            &spoken["status"],
            &spoken["format"],
            &spoken["complete"]
        ),
        (
            &json!("/v1/audio/speech"),
            &json!(200),
            &json!("mp3"),
            &json!(true)
        )
    );
    assert_eq!(spoken["bytes"], speech.body.len() as u64);
    let first = spoken["first_byte_ms"].as_f64().expect("first byte");
    assert!(
        first <= spoken["total_ms"].as_f64().expect("total"),
        "{spoken}"
    );
    assert!(
        spoken["at_ms"].as_u64() <= recent[0]["at_ms"].as_u64(),
        "{recent:#?}"
    );
    assert!(
        metrics["response_bytes"]
            .as_u64()
            .is_some_and(|b| b >= speech.body.len() as u64 * 2)
    );
    let text = murmurd
        .control(
            Method::GET,
            "/murmur/api/metrics?format=prometheus",
            None,
            None,
        )
        .await;
    assert_eq!(
        text.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    // Read by the Prometheus client's own parser: a malformed exposition fails here.
    let families =
        murmur_tests::tools::parse_openmetrics(&String::from_utf8_lossy(&text.body)).await;
    let family = |name: &str| {
        families
            .as_array()
            .expect("families")
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {families}"))
            .clone()
    };
    let sample = |family: &serde_json::Value, name: &str, labels: serde_json::Value| {
        family["samples"]
            .as_array()
            .expect("samples")
            .iter()
            .find(|s| {
                s["name"] == name
                    && labels
                        .as_object()
                        .expect("labels")
                        .iter()
                        .all(|(k, v)| &s["labels"][k] == v)
            })
            .map(|s| s["value"].as_f64().expect("a number"))
            .unwrap_or_else(|| panic!("no {name} {labels} in {family}"))
    };
    let requests = family("murmur_requests");
    assert_eq!(requests["type"], "counter");
    let speech_labels = serde_json::json!({"route": "/v1/audio/speech", "status": "200"});
    assert_eq!(
        sample(&requests, "murmur_requests_total", speech_labels),
        1.0
    );
    let durations = family("murmur_request_duration_seconds");
    assert_eq!(durations["type"], "histogram");
    let route = serde_json::json!({"route": "/v1/audio/speech"});
    assert_eq!(
        sample(
            &durations,
            "murmur_request_duration_seconds_count",
            route.clone()
        ),
        2.0,
        "the spoken request and the refused one"
    );
    let seconds = sample(
        &durations,
        "murmur_request_duration_seconds_sum",
        route.clone(),
    );
    assert!(
        seconds > 0.0 && seconds < 30.0,
        "a latency in seconds: {seconds}"
    );
    let all = sample(
        &durations,
        "murmur_request_duration_seconds_bucket",
        serde_json::json!({"route": "/v1/audio/speech", "le": "+Inf"}),
    );
    assert_eq!(all, 2.0);
    let bytes = family("murmur_response_bytes");
    assert_eq!(bytes["type"], "counter");
    assert!(
        sample(&bytes, "murmur_response_bytes_total", serde_json::json!({}))
            >= speech.body.len() as f64
    );
    assert_eq!(family("murmur_engine_crashes")["type"], "gauge");
}
