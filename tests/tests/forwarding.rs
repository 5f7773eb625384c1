//! The proxy in front of a fake upstream, through the real `murmurd` on real ports: routing,
//! transparent forwarding, request defaults, credentials, TLS (the streaming rules:
//! `streaming.rs`).

use std::io::{Read, Write};

use bytes::Bytes;
use http::Method;
use murmur_tests::client::request;
use murmur_tests::murmurd::external_config;
use murmur_tests::proxied::setup;
use murmur_tests::{Client, Murmurd};

#[tokio::test]
async fn other_paths_are_forwarded_as_is() {
    let (_fake, murmurd, client) = setup("").await;
    let mut req = request(
        Method::PUT,
        &murmurd.url("/echo/a/b?x=1&y=two%20words"),
        "payload",
    );
    let headers = req.headers_mut();
    headers.insert("x-custom", "kept".parse().expect("header"));
    headers.insert("connection", "keep-alive, x-hop".parse().expect("header"));
    headers.insert("x-hop", "dropped".parse().expect("header"));
    headers.insert("proxy-authorization", "Basic abc".parse().expect("header"));
    let reply = client.exchange(req).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let echo = reply.json();
    assert_eq!(echo["method"], "PUT");
    assert_eq!(echo["path"], "/echo/a/b");
    assert_eq!(echo["query"], "x=1&y=two%20words");
    assert_eq!(echo["body_head"], "payload");
    assert_eq!(echo["headers"]["x-custom"], "kept");
    assert!(
        echo["headers"].get("x-hop").is_none(),
        "a header named in Connection is hop-by-hop: {echo}"
    );
    assert!(
        echo["headers"].get("proxy-authorization").is_none(),
        "{echo}"
    );
    assert_eq!(
        echo["headers"]["host"],
        _fake.addr.to_string(),
        "Host is the engine's"
    );

    for method in [Method::GET, Method::DELETE, Method::PATCH, Method::POST] {
        let reply = client
            .exchange(request(method.clone(), &murmurd.url("/echo"), ""))
            .await;
        assert_eq!(reply.json()["method"], method.as_str());
    }
}

#[tokio::test]
async fn large_request_bodies_stream_to_other_paths() {
    let (_fake, murmurd, client) = setup("").await;
    let body = Bytes::from(vec![b'x'; 8 * 1024 * 1024]);
    let reply = client
        .exchange(request(Method::POST, &murmurd.url("/echo/upload"), body))
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["body_len"], 8 * 1024 * 1024);
}

#[tokio::test]
async fn murmur_paths_are_never_forwarded() {
    let (_fake, murmurd, client) = setup("").await;
    assert_eq!(
        client.get(&murmurd.url("/murmur/healthz")).await.status,
        200
    );
    let reply = client.get(&murmurd.url("/murmur/echo")).await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.error_code(), "not_found");
}

#[tokio::test]
async fn speech_requests_are_completed_from_settings() {
    let (fake, murmurd, client) = setup(
        "model = \"my-model\"\nvoice = \"my-voice\"\nspeed = 1.5\nresponse_format = \"pcm\"\n",
    )
    .await;
    let reply = client
        .post_json(
            &murmurd.url("/v1/audio/speech"),
            r#"{"model":"tts-1","input":"こんにちは","voice":"alloy","x_extension":true}"#,
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body.len(),
        4096,
        "the fake's default body comes through whole"
    );
    let sent = &fake.speech_bodies()[0];
    assert_eq!(sent["model"], "my-model");
    assert_eq!(sent["voice"], "my-voice");
    assert_eq!(sent["speed"], 1.5);
    assert_eq!(sent["response_format"], "pcm");
    assert_eq!(sent["lang_code"], "j");
    assert_eq!(sent["x_extension"], true);
}

#[tokio::test]
async fn models_and_voices_come_from_the_engine_without_its_cors() {
    let (_fake, murmurd, client) = setup("").await;
    let models = client.get(&murmurd.url("/v1/models")).await;
    assert_eq!(models.status, 200);
    assert_eq!(models.json()["data"][0]["id"], "fake-model");
    assert_eq!(
        models.header("access-control-allow-origin"),
        None,
        "the engine's CORS is dropped"
    );
    let voices = client.get(&murmurd.url("/v1/audio/voices")).await;
    assert_eq!(voices.json()["voices"][0]["id"], "fake");
}

#[tokio::test]
async fn bad_speech_requests_get_openai_errors() {
    let (fake, murmurd, client) = setup("").await;
    let url = murmurd.url("/v1/audio/speech");
    let cases = [
        ("not json", 400, "invalid_json"),
        ("[1,2]", 400, "invalid_json"),
        ("{}", 400, "missing_input"),
        (r#"{"input":""}"#, 400, "empty_input"),
        (r#"{"input":3}"#, 400, "invalid_type"),
        (r#"{"input":"hi","speed":10}"#, 400, "invalid_speed"),
        (
            r#"{"input":"hi","response_format":"ogg"}"#,
            400,
            "invalid_format",
        ),
    ];
    for (body, status, code) in cases {
        let reply = client.post_json(&url, body).await;
        assert_eq!(reply.status, status, "{body}");
        assert_eq!(reply.error_code(), code, "{body}");
    }
    let big = format!(r#"{{"input":"{}"}}"#, "a".repeat(1024 * 1024));
    let reply = client.post_json(&url, &big).await;
    assert_eq!(reply.status, 413);
    assert_eq!(reply.error_code(), "request_too_large");
    assert!(
        fake.speech_bodies().is_empty(),
        "no bad request reached the engine"
    );
}

#[tokio::test]
async fn an_oversized_body_without_length_is_refused_too() {
    let (_fake, murmurd, _client) = setup("[proxy]\nmax_request_bytes = 1000\n").await;
    // Chunked upload: no Content-Length to check up front.
    let mut stream =
        std::net::TcpStream::connect(murmurd.base.trim_start_matches("http://")).expect("connect");
    let chunk = "a".repeat(600);
    let body = format!(
        "{:x}\r\n{{\"input\":\"{chunk}\r\n{:x}\r\n{chunk}\"}}\r\n0\r\n\r\n",
        chunk.len() + 10,
        chunk.len() + 2
    );
    write!(
        stream,
        "POST /v1/audio/speech HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{body}"
    )
    .expect("write");
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(reply.contains("request_too_large"), "{reply}");
}

#[tokio::test]
async fn voice_and_model_lists_fall_back_to_the_configured_ones() {
    // The fake serves /v1/audio/voices but not /v1/audio/models, like mlx_audio.server.
    let (_fake, murmurd, client) = setup("model = \"kokoro\"\nvoice = \"af_heart\"\n").await;
    let models = client.get(&murmurd.url("/v1/audio/models")).await;
    assert_eq!(models.status, 200);
    assert_eq!(models.json()["models"][0]["id"], "kokoro");
    let voices = client.get(&murmurd.url("/v1/audio/voices")).await;
    assert_eq!(
        voices.json()["voices"][0]["id"],
        "fake",
        "the engine's own list wins"
    );
}

/// A browser's cookies for 127.0.0.1 (every local port shares them) never reach an external
/// engine; the client's `Authorization` reaches it only when `[engine] forward_authorization`
/// says so (and never Murmur's own key).
#[tokio::test]
async fn cookies_never_reach_the_engine_and_authorization_only_when_asked() {
    let echo_of = |murmurd: &Murmurd, client: &Client| {
        let mut req = request(Method::GET, &murmurd.url("/echo/credentials"), "");
        let headers = req.headers_mut();
        headers.insert(
            "cookie",
            "session=secret-of-another-app".parse().expect("header"),
        );
        headers.insert("authorization", "Bearer sk-client".parse().expect("header"));
        let client = client.clone();
        async move { client.exchange(req).await.json() }
    };
    let (_fake, murmurd, client) = setup("").await;
    let echo = echo_of(&murmurd, &client).await;
    assert_eq!(echo["path"], "/echo/credentials", "{echo}");
    assert!(echo["headers"].get("cookie").is_none(), "{echo}");
    assert!(echo["headers"].get("authorization").is_none(), "{echo}");

    let (_fake, murmurd, client) = setup("forward_authorization = true").await;
    let echo = echo_of(&murmurd, &client).await;
    assert!(echo["headers"].get("cookie").is_none(), "{echo}");
    assert_eq!(
        echo["headers"]["authorization"], "Bearer sk-client",
        "{echo}"
    );
}

/// An external server at an `https://` URL is reached over TLS and its certificate checked
/// against the system's trust store (here a test CA named by `SSL_CERT_FILE`): trusted, the
/// request arrives (cookies dropped, `Authorization` passed as configured); untrusted, it
/// does not.
#[tokio::test]
async fn an_external_server_at_an_https_url_is_reached_over_tls() {
    let dir = tempfile::tempdir().expect("tmp");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/tls-upstream/tls_echo.py"
    );
    let mut server = std::process::Command::new("python3")
        .arg(script)
        .arg(&cert)
        .arg(&key)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the TLS server");
    let mut port = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.take().expect("stdout")),
        &mut port,
    )
    .expect("its port");
    let url = format!("https://127.0.0.1:{}", port.trim());
    let config = external_config(&url, "forward_authorization = true");
    let ask = |murmurd: &Murmurd| {
        let mut req = request(Method::GET, &murmurd.url("/echo/over-tls"), "");
        let headers = req.headers_mut();
        headers.insert("cookie", "session=another-app".parse().expect("header"));
        headers.insert("authorization", "Bearer sk-client".parse().expect("header"));
        async move { Client::new().exchange(req).await }
    };

    let mut trusting = murmur_tests::murmurd::Launch::with_config(&config);
    trusting
        .env
        .push(("SSL_CERT_FILE".into(), cert.display().to_string()));
    let murmurd = Murmurd::launch(trusting).expect("starts");
    let reply = ask(&murmurd).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let echo = reply.json();
    assert_eq!(echo["path"], "/echo/over-tls");
    assert!(echo["headers"].get("cookie").is_none(), "{echo}");
    assert_eq!(echo["headers"]["authorization"], "Bearer sk-client");

    // Without the CA, the server's certificate is not trusted: nothing reaches it.
    let mut distrusting = murmur_tests::murmurd::Launch::with_config(&config);
    distrusting
        .env
        .push(("SSL_CERT_FILE".into(), "/nonexistent".into()));
    let murmurd = Murmurd::launch(distrusting).expect("starts");
    let reply = ask(&murmurd).await;
    assert!(
        matches!(reply.status.as_u16(), 502 | 503),
        "{} {}",
        reply.status,
        String::from_utf8_lossy(&reply.body)
    );
    let _ = server.kill();
    let _ = server.wait();
}
