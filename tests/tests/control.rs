//! The control API: settings read and written whole (validated, atomic, applied), logs, the
//! Origin rule for state-changing calls, and the page URL murmurd prints.

use std::io::{BufRead, BufReader};
use std::time::Duration;

use http::Method;
use murmur_core::status::State;
use murmur_tests::client::request;
use murmur_tests::murmurd::{binary, fake_engine_config};
use murmur_tests::supervised::{QUICK, pid};
use murmur_tests::{Client, Murmurd};
use serde_json::{Value, json};

#[tokio::test]
async fn settings_are_validated_whole_saved_atomically_and_applied() {
    let murmurd = Murmurd::start(&fake_engine_config(&[], QUICK));
    let current = murmurd
        .control(Method::GET, "/murmur/api/settings", None, None)
        .await;
    assert_eq!(current.status, 200);
    let current = current.json();
    assert_eq!(current["settings"]["engine"]["id"], "custom");
    assert_eq!(
        current["overridden"],
        json!(["proxy.port"]),
        "the test passes --port"
    );
    let file = murmurd.data_dir().join("config.toml");
    let before = std::fs::read_to_string(&file).expect("config");

    // Two bad fields: both reported, nothing saved.
    let mut bad = current["settings"].clone();
    bad["engine"]["speed"] = json!(9.0);
    bad["supervisor"]["health_interval_secs"] = json!(0);
    let reply = murmurd
        .control(Method::PUT, "/murmur/api/settings", Some(&bad), None)
        .await;
    assert_eq!(reply.status, 422);
    let keys: Vec<String> = reply.json()["error"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["key"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(keys, ["engine.speed", "supervisor.health_interval_secs"]);
    let mut unknown = current["settings"].clone();
    unknown["proxy"]["prot"] = json!(1);
    let reply = murmurd
        .control(Method::PUT, "/murmur/api/settings", Some(&unknown), None)
        .await;
    assert_eq!(reply.status, 422);
    assert_eq!(reply.json()["error"]["fields"][0]["key"], "proxy.prot");
    assert_eq!(
        std::fs::read_to_string(&file).expect("config"),
        before,
        "nothing was saved"
    );

    // A good change to the engine: saved (old file kept), applied by a restart.
    assert_eq!(
        Client::new()
            .post_json(&murmurd.url("/v1/audio/speech"), r#"{"input":"hi"}"#)
            .await
            .status,
        200
    );
    let first = pid(&murmurd.engine().await);
    let mut good = current["settings"].clone();
    good["engine"]["custom"]["command"]
        .as_array_mut()
        .expect("command")
        .extend([json!("--say"), json!("reconfigured")]);
    let reply = murmurd
        .control(Method::PUT, "/murmur/api/settings", Some(&good), None)
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(
        reply.json(),
        json!({"saved": true, "restarts_engine": true, "restarts_transcription_engine": false, "needs_murmur_restart": false})
    );
    assert_eq!(
        std::fs::read_to_string(file.with_extension("toml.bak")).expect("backup"),
        before
    );
    assert!(
        std::fs::read_to_string(&file)
            .expect("config")
            .contains("reconfigured")
    );
    murmurd
        .wait_for_engine("the reconfigured engine", Duration::from_secs(15), |s| {
            s.state == State::Ready && s.engine.pid != Some(first)
        })
        .await;
    assert!(murmurd.engine_log().contains("reconfigured"));

    // A proxy change is saved for the next start.
    let mut proxy = good.clone();
    proxy["proxy"]["max_queue"] = json!(5);
    let reply = murmurd
        .control(Method::PUT, "/murmur/api/settings", Some(&proxy), None)
        .await;
    assert_eq!(reply.json()["needs_murmur_restart"], true);
}

#[tokio::test]
async fn state_changes_from_other_web_pages_are_refused() {
    let murmurd = Murmurd::start(&fake_engine_config(
        &[],
        "[proxy]\nallowed_origins = [\"http://localhost:3000\"]\n[supervisor]\nauto_start = false\n",
    ));
    for origin in ["https://evil.example", "http://localhost:3000"] {
        let reply = murmurd
            .control(
                Method::POST,
                "/murmur/api/engines/speech/start",
                None,
                Some(origin),
            )
            .await;
        assert_eq!(
            reply.status, 403,
            "{origin}: even an allowed API origin may not drive Murmur"
        );
    }
    let own = murmurd.base.clone();
    let reply = murmurd
        .control(
            Method::POST,
            "/murmur/api/engines/speech/start",
            None,
            Some(&own),
        )
        .await;
    assert_eq!(reply.status, 200, "Murmur's own page may");
    let logs = murmurd
        .control(Method::GET, "/murmur/api/logs?lines=50", None, None)
        .await
        .json();
    let lines = logs["lines"].as_array().expect("lines");
    assert!(
        lines
            .iter()
            .any(|l| l.as_str().is_some_and(|l| l.contains("[murmur] starting"))),
        "{logs}"
    );
}

#[test]
fn murmurd_prints_where_the_page_and_its_token_are_never_the_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = std::process::Command::new(binary())
        .args(["--port", "0", "--data-dir"])
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let listening = lines.next().expect("a line").expect("text");
    let page = lines.next().expect("a second line").expect("text");
    let _ = child.kill();
    let _ = child.wait();
    let token = std::fs::read_to_string(dir.path().join("control-token")).expect("token");
    assert!(listening.starts_with("Murmur listening on http://127.0.0.1:"));
    assert!(
        page.starts_with("Status page: http://127.0.0.1:")
            && page.ends_with(&format!(
                "/murmur/ (its control token is in {})",
                dir.path().join("control-token").display()
            )),
        "{page}"
    );
    assert!(!page.contains(token.trim()), "the token is never printed");
    let log = std::fs::read_dir(dir.path().join("logs"))
        .expect("logs")
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect::<String>();
    assert!(!log.contains(token.trim()), "the token is never logged");
}

#[tokio::test]
async fn events_stream_every_state_change() {
    let murmurd = Murmurd::start(&fake_engine_config(&[], QUICK));
    let url = murmurd.url(&format!("/murmur/api/events?token={}", murmurd.token()));
    let response = Client::new().send(request(Method::GET, &url, "")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();
    let mut states = Vec::new();
    let mut pending = String::new();
    let started = murmurd.control(Method::POST, "/murmur/api/engines/speech/start", None, None);
    let collect = async {
        while !states.iter().any(|s: &String| s == "ready") {
            let Some(Ok(frame)) = http_body_util::BodyExt::frame(&mut body).await else {
                break;
            };
            if let Ok(data) = frame.into_data() {
                pending.push_str(&String::from_utf8_lossy(&data));
                while let Some(end) = pending.find("\n\n") {
                    let event: String = pending.drain(..end + 2).collect();
                    if let Some(json) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                        let status: Value = serde_json::from_str(json).expect("status JSON");
                        states.push(status["state"].as_str().unwrap_or_default().to_string());
                    }
                }
            }
        }
    };
    let (reply, ()) = tokio::join!(started, async {
        tokio::time::timeout(Duration::from_secs(15), collect)
            .await
            .expect("events within 15 s");
    });
    assert_eq!(reply.status, 200);
    assert_eq!(
        states.first().map(String::as_str),
        Some("stopped"),
        "{states:?}"
    );
    assert!(states.contains(&"starting".to_string()), "{states:?}");
    assert_eq!(
        states.last().map(String::as_str),
        Some("ready"),
        "{states:?}"
    );
    // Without the token there is no stream.
    let refused = Client::new().get(&murmurd.url("/murmur/api/events")).await;
    assert_eq!(refused.status, 401);
}

#[tokio::test]
async fn about_and_defaults_tell_a_client_where_it_stands() {
    let murmurd = Murmurd::start(&fake_engine_config(&[], QUICK));
    let about = murmurd
        .control(Method::GET, "/murmur/api/about", None, None)
        .await;
    assert_eq!(about.status, 200);
    let about = about.json();
    assert_eq!(about["api_url"], murmurd.url("/v1"));
    assert_eq!(
        about["config_file"],
        murmurd.data_dir().join("config.toml").display().to_string()
    );
    assert_eq!(about["version"], env!("CARGO_PKG_VERSION"));

    let defaults = murmurd
        .control(Method::GET, "/murmur/api/settings/defaults", None, None)
        .await;
    assert_eq!(defaults.status, 200);
    let defaults = defaults.json();
    // What Murmur runs on without a file, not what this one's file says.
    assert_eq!(defaults["settings"]["proxy"]["port"], 19281);
    assert_ne!(defaults["settings"]["engine"]["id"], "custom");

    for path in ["/murmur/api/about", "/murmur/api/settings/defaults"] {
        let anonymous = Client::new().get(&murmurd.url(path)).await;
        assert_eq!(anonymous.status, 401, "{path} needs the token");
    }
}

#[tokio::test]
async fn a_broken_settings_file_is_reported_with_its_key_and_path() {
    let murmurd = Murmurd::start(&fake_engine_config(&[], QUICK));
    let file = murmurd.data_dir().join("config.toml");
    std::fs::write(&file, "[proxy]\nmax_queue = \"many\"\n").expect("break the file");
    let reply = murmurd
        .control(Method::GET, "/murmur/api/settings", None, None)
        .await;
    assert_eq!(reply.status, 409);
    let error = reply.json();
    assert_eq!(error["error"]["code"], "config_broken");
    let message = error["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("max_queue"), "{message}");
    assert!(message.contains(&file.display().to_string()), "{message}");
}

/// The data folder holds the control token and programs Murmur runs: one others can write to is
/// made private (0700) before anything in it is trusted, and one another user owns is refused
/// with its path.
#[test]
fn a_data_folder_others_can_write_is_made_private_and_another_users_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let mut child = std::process::Command::new(binary())
        .args(["--port", "0", "--data-dir"])
        .arg(&data)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let listening = lines.next().expect("a line").expect("text");
    let _ = child.kill();
    let _ = child.wait();
    assert!(listening.starts_with("Murmur listening on"), "{listening}");
    let mode = std::fs::metadata(&data).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "{mode:o}");
    let log = std::fs::read_dir(data.join("logs"))
        .expect("logs")
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect::<String>();
    assert!(log.contains("was open to other users (777)"), "{log}");

    // Another user's folder (a test run as root can make one; otherwise this part cannot be
    // set up, and the folder stays ours).
    let theirs = dir.path().join("theirs");
    std::fs::create_dir(&theirs).expect("mkdir");
    if std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).is_ok() {
        let out = std::process::Command::new(binary())
            .args(["--port", "0", "--data-dir"])
            .arg(&theirs)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&theirs.display().to_string()) && stderr.contains("another user"),
            "{stderr}"
        );
        assert!(
            !theirs.join("control-token").exists(),
            "nothing written there"
        );
    }
}
