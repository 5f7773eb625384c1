//! Host allow-list, Origin allow-list and CORS, and the API key.

use http::Method;
use murmur_tests::client::request;
use murmur_tests::murmurd::{Launch, external_config};
use murmur_tests::{Client, FakeUpstream, Murmurd};

#[tokio::test]
async fn foreign_host_names_are_refused() {
    let fake = FakeUpstream::start().await;
    let murmurd = Murmurd::start(&external_config(
        &fake.url(),
        "[proxy]\nallowed_hosts = [\"murmur.lan\"]\n",
    ));
    let client = Client::new();
    for (host, status) in [
        ("attacker.example", 403),
        ("attacker.example:19281", 403),
        ("localhost:1234", 200),
        ("[::1]:1", 200),
        ("murmur.lan", 200),
    ] {
        let mut req = request(Method::GET, &murmurd.url("/v1/models"), "");
        req.headers_mut()
            .insert("host", host.parse().expect("header"));
        let reply = client.exchange(req).await;
        assert_eq!(reply.status, status, "Host: {host}");
        if status == 403 {
            assert_eq!(reply.error_code(), "host_not_allowed");
        }
    }
}

#[tokio::test]
async fn web_pages_get_no_cors_unless_allowed() {
    let fake = FakeUpstream::start().await;
    let murmurd = Murmurd::start(&external_config(
        &fake.url(),
        "[proxy]\nallowed_origins = [\"http://localhost:3000\"]\n",
    ));
    let client = Client::new();

    let preflight = |origin: &str| {
        let mut req = request(Method::OPTIONS, &murmurd.url("/v1/audio/speech"), "");
        let h = req.headers_mut();
        h.insert("origin", origin.parse().expect("header"));
        h.insert(
            "access-control-request-method",
            "POST".parse().expect("header"),
        );
        h.insert(
            "access-control-request-headers",
            "content-type".parse().expect("header"),
        );
        req
    };
    let allowed = client.exchange(preflight("http://localhost:3000")).await;
    assert!(allowed.status.is_success(), "{:?}", allowed.status);
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    let said = |name: &str| {
        allowed
            .header(name)
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    assert!(said("access-control-allow-methods").contains("post"));
    assert!(said("access-control-allow-headers").contains("content-type"));
    assert!(said("access-control-allow-headers").contains("authorization"));
    assert_eq!(said("access-control-max-age"), "600");
    assert!(said("vary").contains("origin"), "answers differ by Origin");

    let foreign = client.exchange(preflight("https://evil.example")).await;
    assert_eq!(foreign.status, 403);
    assert_eq!(foreign.header("access-control-allow-origin"), None);

    // A "simple" cross-site POST needs no preflight; it must still not reach the engine.
    let mut post = request(
        Method::POST,
        &murmurd.url("/v1/audio/speech"),
        r#"{"input":"hi"}"#,
    );
    post.headers_mut()
        .insert("origin", "https://evil.example".parse().expect("header"));
    post.headers_mut()
        .insert("content-type", "text/plain".parse().expect("header"));
    let reply = client.exchange(post).await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.error_code(), "origin_not_allowed");
    assert!(fake.speech_bodies().is_empty());

    let mut get = request(Method::GET, &murmurd.url("/v1/models"), "");
    get.headers_mut()
        .insert("origin", "http://localhost:3000".parse().expect("header"));
    let reply = client.exchange(get).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );

    let plain = client.get(&murmurd.url("/v1/models")).await;
    assert_eq!(
        plain.header("access-control-allow-origin"),
        None,
        "no Origin, no CORS"
    );
}

#[tokio::test]
async fn the_api_key_guards_everything_but_murmur_paths() {
    let fake = FakeUpstream::start().await;
    let murmurd = Murmurd::start(&external_config(
        &fake.url(),
        "[proxy]\napi_key = \"s3cret\"\n",
    ));
    let client = Client::new();
    let with_key = |method: Method, path: &str, key: Option<&str>| {
        let mut req = request(method, &murmurd.url(path), r#"{"input":"hi"}"#);
        if let Some(key) = key {
            req.headers_mut().insert(
                "authorization",
                format!("Bearer {key}").parse().expect("header"),
            );
        }
        req
    };
    for key in [None, Some("wrong"), Some("s3cre")] {
        let reply = client
            .exchange(with_key(Method::POST, "/v1/audio/speech", key))
            .await;
        assert_eq!(reply.status, 401, "{key:?}");
        assert_eq!(reply.error_code(), "invalid_api_key");
        let reply = client.exchange(with_key(Method::GET, "/echo", key)).await;
        assert_eq!(reply.status, 401, "forwarded paths too: {key:?}");
    }
    let reply = client
        .exchange(with_key(Method::POST, "/v1/audio/speech", Some("s3cret")))
        .await;
    assert_eq!(reply.status, 200);
    let echo = client
        .exchange(with_key(Method::GET, "/echo", Some("s3cret")))
        .await
        .json();
    assert!(
        echo["headers"].get("authorization").is_none(),
        "Murmur's key is not passed on: {echo}"
    );
    assert_eq!(
        client.get(&murmurd.url("/murmur/healthz")).await.status,
        200
    );
}

#[tokio::test]
async fn a_public_address_without_an_api_key_is_refused_at_start() {
    let config = "[proxy]\nhost = \"0.0.0.0\"\n";
    let (status, stderr) = Murmurd::launch(Launch::with_config(config))
        .err()
        .expect("murmurd refuses to start");
    assert_eq!(status.code(), Some(2));
    assert!(
        stderr.contains("proxy.host") && stderr.contains("api_key"),
        "{stderr}"
    );
}
