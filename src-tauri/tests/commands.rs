//! The desktop shell's command layer, on Tauri's mock runtime: the settings window's IPC
//! command and the tray menu's actions, against a real core (the proxy's router and the
//! fault-injecting engine as a real child process). No window system needed.

use std::path::Path;
use std::time::{Duration, Instant};

use murmur_core::config::{self, Overrides};
use murmur_core::paths::Paths;
use murmur_core::server::Bound;
use murmur_core::status::{State, Status};
use murmur_core::tray::MenuItem;
use murmur_lib::actions::{self, Outcome};
use murmur_lib::commands::WindowApi;
use murmur_lib::{Core, Shutdown};
use serde_json::{Value, json};
use tauri::ipc::{CallbackFn, InvokeBody, InvokeResponseBody};
use tauri::test::{INVOKE_KEY, MockRuntime, mock_builder, mock_context, noop_assets};
use tauri::webview::InvokeRequest;
use tauri::{App, Manager, WebviewWindow, WebviewWindowBuilder};

struct Fixture {
    app: App<MockRuntime>,
    window: WebviewWindow<MockRuntime>,
    dir: tempfile::TempDir,
    bound: Option<Bound>,
    stopped: tokio::sync::watch::Receiver<bool>,
}

/// A mock app with the `api` command, and a core on the fake engine (not started).
fn fixture(manage_core: bool) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = Paths::under(dir.path());
    let config = murmur_tests::murmurd::fake_engine_config(&[], murmur_tests::supervised::QUICK);
    std::fs::write(&paths.config_file, config).expect("write config");
    let mut settings = config::load(&paths.config_file, &Overrides::default()).expect("config");
    settings.proxy.port = 0;
    let bound =
        tauri::async_runtime::block_on(Bound::new(&settings, &paths, &Overrides::default()))
            .expect("bind");
    let (shutdown, stopped) = Shutdown::new();
    let app = mock_builder()
        .manage(shutdown)
        .invoke_handler(tauri::generate_handler![murmur_lib::commands::api])
        .build(mock_context(noop_assets()))
        .expect("mock app");
    if manage_core {
        app.manage(Core::new(&bound, &paths));
        let token = std::fs::read_to_string(dir.path().join("control-token")).expect("token");
        let local =
            murmur_core::control::local::LocalApi::new(bound.app.clone(), bound.addr, &token, None)
                .expect("control API");
        app.manage(WindowApi(local));
    }
    let window = WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .expect("window");
    Fixture {
        app,
        window,
        dir,
        bound: Some(bound),
        stopped,
    }
}

impl Fixture {
    /// Invoke `api` as the page does; `Ok(bytes)` or `Err({status, body})`.
    fn api(&self, method: &str, path: &str, body: Option<Value>) -> Result<Vec<u8>, Value> {
        let request = InvokeRequest {
            cmd: "api".into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().expect("url"),
            body: InvokeBody::Json(json!({ "method": method, "path": path, "body": body })),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        };
        tauri::test::get_ipc_response(&self.window, request).map(|body| match body {
            InvokeResponseBody::Raw(bytes) => bytes,
            InvokeResponseBody::Json(text) => text.into_bytes(),
        })
    }

    fn api_json(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let bytes = self.api(method, path, body).expect("a success");
        serde_json::from_slice(&bytes).expect("JSON")
    }

    fn status(&self) -> Status {
        self.app.state::<Core>().control.status()
    }

    fn wait_for(&self, what: &str, done: impl Fn(&Status) -> bool) -> Status {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let status = self.status();
            if done(&status) {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {status:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn perform(&self, item: MenuItem) -> Outcome {
        tauri::async_runtime::block_on(actions::perform(self.app.handle(), item))
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(bound) = self.bound.take() {
            tauri::async_runtime::block_on(bound.control.shutdown());
        }
    }
}

#[test]
fn the_window_reads_the_status_and_settings_over_ipc() {
    let f = fixture(true);
    let status = f.api_json("GET", "/murmur/api/status", None);
    assert_eq!(status["state"], "stopped");
    assert_eq!(status["engine"]["id"], "custom");

    let about = f.api_json("GET", "/murmur/api/about", None);
    let addr = f.bound.as_ref().expect("bound").addr;
    assert_eq!(about["api_url"], format!("http://{addr}/v1"));

    let settings = f.api_json("GET", "/murmur/api/settings", None);
    assert_eq!(settings["settings"]["engine"]["id"], "custom");
    assert_eq!(
        settings["config_file"],
        f.dir.path().join("config.toml").display().to_string()
    );
}

#[test]
fn invalid_settings_come_back_as_the_field_list_and_the_file_is_kept() {
    let f = fixture(true);
    let before = std::fs::read_to_string(f.dir.path().join("config.toml")).expect("config");
    let mut settings = f.api_json("GET", "/murmur/api/settings", None)["settings"].clone();
    settings["proxy"]["port"] = json!(70000);
    let failure = f
        .api("PUT", "/murmur/api/settings", Some(settings))
        .expect_err("refused");
    assert_eq!(failure["status"], 422);
    assert_eq!(failure["body"]["error"]["fields"][0]["key"], "proxy.port");
    let after = std::fs::read_to_string(f.dir.path().join("config.toml")).expect("config");
    assert_eq!(before, after);
}

#[test]
fn the_window_cannot_reach_beyond_the_control_api() {
    let f = fixture(true);
    for (method, path) in [
        ("POST", "/v1/audio/speech"),
        ("GET", "/murmur/api/events"),
        ("GET", "/v1/files"),
        ("GET", "/murmur/api/../../v1/files"),
    ] {
        let failure = f.api(method, path, None).expect_err(path);
        assert_eq!(failure["status"], 403, "{method} {path}");
        assert_eq!(failure["body"]["error"]["code"], "not_allowed");
    }
    let failure = f
        .api("BR EW", "/murmur/api/status", None)
        .expect_err("bad method");
    assert_eq!(failure["status"], 403);
}

#[test]
fn before_the_core_is_up_the_window_is_told_to_wait() {
    let f = fixture(false);
    let failure = f
        .api("GET", "/murmur/api/status", None)
        .expect_err("not yet");
    assert_eq!(failure["status"], 503);
    assert_eq!(failure["body"]["error"]["code"], "starting");
    match f.perform(MenuItem::Restart) {
        Outcome::Failed(notice) => assert!(notice.body.contains("still starting"), "{notice:?}"),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn the_menu_starts_restarts_and_stops_the_engine_through_the_control_api() {
    let f = fixture(true);
    assert_eq!(f.perform(MenuItem::Server), Outcome::Done);
    let ready = f.wait_for("ready", |s| s.state == State::Ready);
    let first = ready.engine.pid.expect("pid");

    assert_eq!(f.perform(MenuItem::Restart), Outcome::Done);
    let again = f.wait_for("a restart", |s| {
        s.state == State::Ready && s.engine.pid.is_some_and(|pid| pid != first)
    });
    assert_eq!(again.restarts.total, 1);
    assert!(
        murmur_tests::murmurd::wait_gone(first, Duration::from_secs(10)),
        "the old engine is gone"
    );

    let second = again.engine.pid.expect("pid");
    assert_eq!(f.perform(MenuItem::Server), Outcome::Done);
    f.wait_for("stopped", |s| s.state == State::Stopped);
    assert!(murmur_tests::murmurd::wait_gone(
        second,
        Duration::from_secs(10)
    ));
}

fn player(dir: &Path, copy: &Path) {
    let script = dir.join("aplay");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nfor last; do :; done\ncp \"$last\" {}\n",
            copy.display()
        ),
    )
    .expect("write player");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn test_speech_plays_the_engines_audio() {
    let dir = tempfile::tempdir().expect("tempdir");
    let heard = dir.path().join("heard.wav");
    player(dir.path(), &heard);
    let f = fixture(false);
    let bound = f.bound.as_ref().expect("bound");
    let mut core = Core::new(bound, &Paths::under(f.dir.path()));
    core.player_path = Some(dir.path().as_os_str().to_owned());
    f.app.manage(core);

    // The engine is stopped: the test phrase starts it, as any client's request would.
    assert_eq!(f.perform(MenuItem::TestSpeech), Outcome::Done);
    let wav = std::fs::read(&heard).expect("the player got a file");
    assert_eq!(&wav[..4], b"RIFF");
    assert_eq!(&wav[8..12], b"WAVE");
    assert!(wav.len() > 44, "more than a header");
}

#[test]
fn test_speech_without_a_player_says_so() {
    let empty = tempfile::tempdir().expect("tempdir");
    let f = fixture(false);
    let bound = f.bound.as_ref().expect("bound");
    let mut core = Core::new(bound, &Paths::under(f.dir.path()));
    core.player_path = Some(empty.path().as_os_str().to_owned());
    f.app.manage(core);
    match f.perform(MenuItem::TestSpeech) {
        Outcome::Failed(notice) => {
            assert_eq!(notice.title, "Test speech did not work");
            assert!(
                notice.body.starts_with("no audio player was found"),
                "{notice:?}"
            );
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn quit_asks_the_server_to_drain() {
    let mut f = fixture(true);
    assert!(!*f.stopped.borrow());
    assert_eq!(f.perform(MenuItem::Quit), Outcome::Done);
    assert!(*f.stopped.borrow_and_update(), "the stop signal was sent");
}

#[test]
fn desktop_services_that_are_missing_are_reported_not_fatal() {
    // The mock app has no clipboard or autostart plugin, as on a desktop without them.
    let f = fixture(true);
    match f.perform(MenuItem::CopyApiUrl) {
        Outcome::Failed(notice) => assert!(notice.body.contains("clipboard"), "{notice:?}"),
        other => panic!("expected a failure, got {other:?}"),
    }
    match f.perform(MenuItem::StartAtLogin) {
        Outcome::Failed(notice) => assert!(notice.body.contains("start at login"), "{notice:?}"),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn the_window_process_reaches_a_running_murmur_over_loopback() {
    // What `murmur --settings-window` does: the same calls, over HTTP, and the status events.
    let mut f = fixture(false);
    let bound = f.bound.take().expect("bound");
    let addr = bound.addr;
    let control = bound.control.clone();
    let token = std::fs::read_to_string(f.dir.path().join("control-token")).expect("token");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tauri::async_runtime::spawn(bound.run(async move {
        let _ = stopped.await;
    }));
    let remote = murmur_core::control::local::LocalApi::remote(addr, &token, None).expect("client");
    f.app.manage(WindowApi(remote.clone()));

    let status = f.api_json("GET", "/murmur/api/status", None);
    assert_eq!(status["state"], "stopped");
    let failure = f
        .api("POST", "/v1/audio/speech", None)
        .expect_err("refused");
    assert_eq!(failure["status"], 403);

    // The event stream: the current status first, then the engine warming up to ready.
    let (seen, mut states) = tokio::sync::mpsc::unbounded_channel::<String>();
    let follower = tauri::async_runtime::spawn(async move {
        let _ = remote
            .follow(|status| {
                let _ = seen.send(status["state"].as_str().unwrap_or_default().to_string());
            })
            .await;
    });
    // The current status comes first; wait for it before changing anything.
    let first = tauri::async_runtime::block_on(async {
        tokio::time::timeout(Duration::from_secs(10), states.recv()).await
    });
    assert_eq!(first.ok().flatten().as_deref(), Some("stopped"));
    let started = f.api_json("POST", "/murmur/api/engine/start", None);
    assert_ne!(started["state"], "stopped");
    let observed = tauri::async_runtime::block_on(async {
        let mut observed = Vec::new();
        while let Ok(Some(state)) =
            tokio::time::timeout(Duration::from_secs(30), states.recv()).await
        {
            let done = state == "ready";
            observed.push(state);
            if done {
                break;
            }
        }
        observed
    });
    assert_eq!(
        observed.last().map(String::as_str),
        Some("ready"),
        "{observed:?}"
    );

    follower.abort();
    let _ = stop.send(());
    let _ = tauri::async_runtime::block_on(server);
    tauri::async_runtime::block_on(control.shutdown());
}
