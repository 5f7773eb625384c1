//! The settings window, in a process of its own.
//!
//! A webview costs the process that shows it ~90 MB of WebKit, JavaScriptCore and GL
//! libraries that stay mapped after the window closes, plus ~300 MB in WebKit's helper
//! processes. So the tray app never makes one: "Open Murmur…" starts `murmur
//! --settings-window`, which shows the `ui/` page from the app's own assets, answers its IPC
//! calls ([`crate::commands`]) by calling the tray's control API over loopback, and forwards
//! the status events. Closing the window ends that process and returns all of its memory.
//! The tray keeps the child's stdin: a line asks it to come forward, and end-of-file (the tray
//! quit or died) makes it exit, so it is never orphaned.

use std::io::{BufRead, Write};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};

use murmur_core::control::local::LocalApi;
use tauri::{AppHandle, Emitter, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};
use tauri_plugin_window_state::StateFlags;

/// The settings window's label (the capability in `capabilities/default.json` names it).
pub const LABEL: &str = "main";
/// The argument that makes `murmur` the settings window's process.
pub const ARG: &str = "--settings-window";
/// Where the window's process finds the control API (set by the tray; otherwise read from
/// the data folder, which is how a test or a user can start it by hand).
pub const ENV_ADDR: &str = "MURMUR_CONTROL_ADDR";
pub const ENV_TOKEN: &str = "MURMUR_CONTROL_TOKEN";

/// What the window-state plugin remembers, so the window reopens where it was.
pub fn remembered() -> StateFlags {
    StateFlags::SIZE | StateFlags::POSITION | StateFlags::MAXIMIZED
}

// ---- the tray's side ----------------------------------------------------------------------

/// The window's process while it runs: its pid and the pipe to its stdin.
#[derive(Default, Clone)]
pub struct WindowProcess(Arc<Mutex<Option<Open>>>);

struct Open {
    pid: u32,
    stdin: ChildStdin,
}

impl WindowProcess {
    /// The pid of the window's process, if one runs.
    pub fn pid(&self) -> Option<u32> {
        self.0.lock().ok()?.as_ref().map(|open| open.pid)
    }

    /// Ask the window to close (its process exits on end-of-file).
    pub fn close(&self) {
        if let Ok(mut slot) = self.0.lock() {
            slot.take();
        }
    }
}

/// Show the settings window: bring the open one forward, or start its process.
pub fn open<R: Runtime>(app: &AppHandle<R>) {
    let Some(windows) = app.try_state::<WindowProcess>().map(|w| w.inner().clone()) else {
        return;
    };
    let Some((addr, token, paths)) = app
        .try_state::<crate::Core>()
        .map(|core| (core.addr, core.token.clone(), core.paths.clone()))
    else {
        tracing::warn!("the settings window cannot open before Murmur is listening");
        return;
    };
    let Ok(mut slot) = windows.0.lock() else {
        return;
    };
    if let Some(open) = slot.as_mut() {
        if writeln!(open.stdin, "focus")
            .and_then(|_| open.stdin.flush())
            .is_ok()
        {
            return;
        }
        slot.take();
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            tracing::error!("cannot find Murmur's own program to open its window: {e}");
            return;
        }
    };
    let mut command = Command::new(exe);
    command
        .arg(ARG)
        .env(ENV_ADDR, addr.to_string())
        .env(ENV_TOKEN, token.unwrap_or_default())
        // The tray's folders, whether they came from flags or the environment.
        .env(murmur_core::config::env::DATA_DIR, &paths.data_dir)
        .env(murmur_core::config::env::CONFIG, &paths.config_file)
        .stdin(Stdio::piped());
    if crate::desktop::gl_disabled_by_us() {
        // Only the tray goes without GL; the webview may use it.
        command.env_remove("GDK_GL");
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            tracing::error!("cannot open the Murmur window: {e}");
            return;
        }
    };
    let pid = child.id();
    let Some(stdin) = child.stdin.take() else {
        let _ = child.kill();
        return;
    };
    *slot = Some(Open { pid, stdin });
    drop(slot);
    // Reap it when the window closes, and forget it.
    std::thread::spawn(move || {
        let status = child.wait();
        tracing::debug!("the settings window's process ended: {status:?}");
        if let Ok(mut slot) = windows.0.lock()
            && slot.as_ref().is_some_and(|open| open.pid == pid)
        {
            slot.take();
        }
    });
}

// ---- the window's process -----------------------------------------------------------------

/// Run as the settings window's process (`murmur --settings-window`).
pub fn run() {
    let paths = murmur_core::cli::Args::default().paths();
    let (log_guard, _) = match &paths {
        Some(paths) => murmur_core::logging::init(&paths.log_dir, "murmur-window"),
        None => (None, None),
    };
    let started_by_tray = std::env::var_os(ENV_ADDR).is_some();
    let api = match connect(paths.as_ref()) {
        Ok(api) => api,
        Err(e) => {
            tracing::error!("the settings window cannot reach Murmur: {e}");
            // `exit` runs no destructors: the log's writer is flushed by dropping its guard.
            drop(log_guard);
            std::process::exit(1);
        }
    };
    let follower = api.clone();
    tauri::Builder::default()
        .plugin(
            tauri_plugin_window_state::Builder::default()
                .with_state_flags(remembered())
                .build(),
        )
        .manage(crate::commands::WindowApi(api))
        .invoke_handler(tauri::generate_handler![
            crate::commands::api,
            crate::commands::upload
        ])
        .setup(move |app| {
            let window =
                WebviewWindowBuilder::new(app, LABEL, WebviewUrl::App("index.html".into()))
                    .title("Murmur")
                    .inner_size(520.0, 760.0)
                    .min_inner_size(480.0, 560.0)
                    .focused(true)
                    .build()?;
            allow_microphone(&window);
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(forward_status(handle.clone(), follower));
            if started_by_tray {
                std::thread::spawn(move || listen_to_tray(handle));
            }
            Ok(())
        })
        .run(tauri::generate_context!("../tauri.conf.json"))
        .expect("invariant: the Tauri context is generated at build time and valid");
}

/// The tray's address and token: from the environment, or Murmur's data folder.
fn connect(paths: Option<&murmur_core::paths::Paths>) -> Result<LocalApi, String> {
    let from_env = |var| std::env::var(var).ok().filter(|v: &String| !v.is_empty());
    let overrides = murmur_core::config::Overrides::from_env().unwrap_or_default();
    let (settings, _) = crate::load_settings(paths, &overrides);
    let addr = from_env(ENV_ADDR).unwrap_or_else(|| format!("127.0.0.1:{}", settings.proxy.port));
    let addr = addr
        .parse()
        .map_err(|e| format!("{ENV_ADDR}={addr:?}: {e}"))?;
    let token = match from_env(ENV_TOKEN) {
        // Handed over by the tray that started this window: it is Murmur.
        Some(token) => token,
        None => {
            // Started on its own: the token goes only to a Murmur of this user (it lets its
            // holder change settings, custom commands included).
            murmur_listens(addr)?;
            let paths = paths.ok_or("no data folder")?;
            let file = paths.data_dir.join("control-token");
            std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?
        }
    };
    LocalApi::remote(addr, token.trim(), settings.proxy.api_key.as_deref())
        .map_err(|e| e.to_string())
}

/// Whether the process listening at `addr` is Murmur (`murmur` or `murmurd`) run by this user,
/// as the supervisor checks who holds an engine's port.
fn murmur_listens(addr: std::net::SocketAddr) -> Result<(), String> {
    let port = addr.port();
    let owner = murmur_core::port_owner::find(port).ok_or_else(|| {
        format!("cannot tell which process listens on port {port}, so the control token is not sent; start Murmur, or open the window from its tray")
    })?;
    let ours = owner.name == "murmur" || owner.name == "murmurd";
    #[cfg(target_os = "linux")]
    let ours = ours && {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(format!("/proc/{}", owner.pid))
            .is_ok_and(|m| m.uid() == nix::unistd::geteuid().as_raw())
    };
    if ours {
        Ok(())
    } else {
        Err(format!(
            "port {port} is held by {} (pid {}), not Murmur: the control token is not sent to it",
            owner.name, owner.pid
        ))
    }
}

/// Status changes from the tray's event stream, to the page; reconnects if it drops.
async fn forward_status<R: Runtime>(app: AppHandle<R>, api: LocalApi) {
    loop {
        let outcome = api
            .follow(|status| {
                let _ = app.emit(crate::STATUS_EVENT, status);
            })
            .await;
        if let Err(e) = outcome {
            tracing::debug!("status events: {e}");
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// Lines from the tray ask the window forward; end-of-file means the tray is gone.
fn listen_to_tray<R: Runtime>(app: AppHandle<R>) {
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else {
            break;
        };
        if line.trim() == "focus"
            && let Some(window) = app.get_webview_window(LABEL)
        {
            let _ = window.unminimize();
            let _ = window.show();
            let _ = window.set_focus();
        }
    }
    app.exit(0);
}

/// Set (to anything) for the window to use WebKit's mock capture devices instead of a real
/// microphone: the desktop tests' fake source.
#[cfg(target_os = "linux")]
const FAKE_MICROPHONE: &str = "MURMUR_WINDOW_FAKE_MICROPHONE";

/// The page's Record button asks for the microphone. WebKitGTK denies a permission nobody
/// answers (and wry answers none): the window grants the microphone, and only it, to its own
/// page — which is Murmur's, from the app's bundle; the recording goes to Murmur alone.
#[cfg(target_os = "linux")]
fn allow_microphone<R: tauri::Runtime>(window: &tauri::WebviewWindow<R>) {
    let granted = window.with_webview(|webview| {
        use webkit2gtk::glib::Cast;
        use webkit2gtk::{
            PermissionRequestExt, SettingsExt, UserMediaPermissionRequest,
            UserMediaPermissionRequestExt, WebViewExt,
        };
        let view = webview.inner();
        if let Some(settings) = WebViewExt::settings(&view) {
            settings.set_enable_media_stream(true);
            // For tests on machines with no sound card: WebKit's own stand-in microphone.
            if std::env::var_os(FAKE_MICROPHONE).is_some() {
                settings.set_enable_mock_capture_devices(true);
            }
        }
        view.connect_permission_request(|_, request| {
            let microphone = request
                .downcast_ref::<UserMediaPermissionRequest>()
                .is_some_and(|media| media.is_for_audio_device() && !media.is_for_video_device());
            if microphone {
                request.allow();
            } else {
                request.deny();
            }
            true
        });
    });
    if let Err(e) = granted {
        tracing::warn!("the window cannot grant its page the microphone: {e}");
    }
}

/// Other platforms ask the user themselves (macOS: the app's NSMicrophoneUsageDescription).
#[cfg(not(target_os = "linux"))]
fn allow_microphone<R: tauri::Runtime>(_window: &tauri::WebviewWindow<R>) {}
