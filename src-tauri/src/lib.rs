//! Murmur's desktop shell. It starts the same core as `murmurd` (proxy first) and lives in the
//! tray. Every behaviour is in `murmur-core`; this crate only wires the desktop to it:
//!
//! - [`tray`] draws the icon and menu that `murmur_core::tray` describes;
//! - [`actions`] carries out a menu choice, through the core's typed [`Control`] handle;
//! - [`window`] runs the settings window in a process of its own, whose IPC ([`commands`])
//!   reaches the same control API over loopback;
//! - [`desktop`] is what only a desktop has: notifications, clipboard, start at login.

pub mod actions;
pub mod commands;
pub mod desk;
pub mod desktop;
pub mod tray;
pub mod window;

use std::path::PathBuf;

use murmur_core::config::{self, Overrides, Settings};
use murmur_core::control::Control;
use murmur_core::engines::Capability;
use murmur_core::paths::Paths;
use murmur_core::server::{self, Bound};
use tauri::{Emitter, Manager, RunEvent, Runtime};

use tokio::sync::watch;
pub use window::WindowProcess;

/// The event that carries each status change to the settings window.
pub const STATUS_EVENT: &str = "murmur:status";

/// Sends "stop" to the proxy task; the task reports back when it has drained.
pub struct Shutdown {
    stop: watch::Sender<bool>,
}

impl Shutdown {
    pub fn new() -> (Self, watch::Receiver<bool>) {
        let (stop, stopped) = watch::channel(false);
        (Self { stop }, stopped)
    }
}

/// The running core, for the tray's actions (managed once the proxy is up).
pub struct Core {
    /// Start, stop, status, test speech: what the menu's items call.
    pub control: Control,
    /// Where the proxy listens, and its control token: for the settings window's process.
    pub addr: std::net::SocketAddr,
    pub token: Option<String>,
    /// What "Copy API URL" copies.
    pub api_url: String,
    pub log_dir: PathBuf,
    /// Murmur's folders, as this process resolved them (flags, environment or platform).
    pub paths: Paths,
    /// Where "Test speech" looks for an audio player (`PATH` unless set).
    pub player_path: Option<std::ffi::OsString>,
}

impl Core {
    pub fn new(bound: &Bound, paths: &Paths) -> Self {
        Self {
            control: bound.control.clone(),
            addr: bound.addr,
            token: bound.control.token().map(String::from),
            api_url: bound.api_url(),
            log_dir: paths.log_dir.clone(),
            paths: paths.clone(),
            player_path: std::env::var_os("PATH"),
        }
    }
}

/// The desktop app, with the command line `murmurd` takes too.
pub fn run(args: murmur_core::cli::Args) {
    // No shared fallback (a folder in /tmp others could prepare): without a home folder the
    // user names one.
    let Some(paths) = args.paths() else {
        eprintln!("murmur: cannot tell where your home folder is; pass --data-dir DIR");
        std::process::exit(2);
    };
    let made_private = paths.make_private().unwrap_or_else(|e| {
        eprintln!("murmur: {e}");
        std::process::exit(2);
    });
    let (_log_guard, _) = murmur_core::logging::init(&paths.log_dir, "murmur");
    if let Some(note) = made_private {
        tracing::warn!("{note}");
    }
    let overrides = args.overrides().unwrap_or_else(|e| {
        tracing::error!("ignoring the environment's settings: {e}");
        Overrides::default()
    });
    let (settings, config_broken) = load_settings(Some(&paths), &overrides);
    // The window opens by itself only the first time, or to show what is wrong.
    let show_window = paths.first_launch() || config_broken;
    let (shutdown, stopped) = Shutdown::new();

    let app = tauri::Builder::default()
        // First: a second launch hands over to this one and exits before doing anything.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            tracing::info!("Murmur was launched again: showing its window");
            window::open(app);
        }))
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            None,
        ))
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(desk::plugin())
        .manage(shutdown)
        .manage(window::WindowProcess::default())
        .setup(move |app| {
            desktop::hide_from_dock(app);
            // An installed app finds its Python projects among its bundled resources.
            let mut paths = paths;
            paths.resources = app.path().resource_dir().ok();
            let tray = tray::build(app.handle())?;
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(serve(
                settings,
                paths,
                overrides,
                stopped,
                handle,
                tray,
                show_window,
            ));
            Ok(())
        })
        .build(tauri::generate_context!("../tauri.conf.json"))
        .expect("invariant: the Tauri context is generated at build time and valid");

    app.run(|_handle, event| {
        // A tray app keeps running without windows; only an explicit exit (with a code) ends
        // it.
        if let RunEvent::ExitRequested {
            code: None, api, ..
        } = event
        {
            api.prevent_exit();
        }
    });
}

/// Ask the proxy to drain and stop; the app exits once it has stopped the engine too.
pub fn quit<R: Runtime>(app: &tauri::AppHandle<R>) {
    if let Some(shutdown) = app.try_state::<Shutdown>() {
        let _ = shutdown.stop.send(true);
    }
}

async fn serve(
    settings: Settings,
    paths: Paths,
    overrides: Overrides,
    mut stopped: watch::Receiver<bool>,
    app: tauri::AppHandle,
    tray: tray::Tray,
    show_window: bool,
) {
    // SIGTERM and SIGINT quit like the menu's "Quit Murmur" does.
    let signalled = app.clone();
    tauri::async_runtime::spawn(async move {
        server::shutdown_signal().await;
        tracing::info!("signal received: quitting");
        quit(&signalled);
    });
    match Bound::new(&settings, &paths, &overrides).await {
        Ok(bound) => {
            let control = bound.control.clone();
            app.manage(Core::new(&bound, &paths));
            desk::start(&app, bound.proxy.clone(), control.clone());
            tauri::async_runtime::spawn(follow(app.clone(), tray, control.clone()));
            tauri::async_runtime::spawn(server::reload_on_sighup(control));
            tracing::info!("Murmur is listening on {}", bound.api_url());
            // As murmurd says it: scripts and tests wait for this line.
            {
                use std::io::Write;
                let mut stdout = std::io::stdout();
                let _ = writeln!(stdout, "Murmur listening on {}", bound.api_url());
                let _ = stdout.flush();
            }
            if show_window {
                window::open(&app);
            }
            let shutdown = async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            // The settings window goes first; the engine goes after the proxy has drained.
            let closing = app.clone();
            let shutdown = async move {
                shutdown.await;
                if let Some(window) = closing.try_state::<window::WindowProcess>() {
                    window.close();
                }
            };
            if let Err(e) = bound.run(shutdown).await {
                tracing::error!("server error: {e}");
            }
        }
        Err(e) => {
            tracing::error!("{e}");
            tray.show_problem(&e.to_string());
            desktop::notify(
                &app,
                &murmur_core::tray::Notice {
                    title: "Murmur cannot start its server".into(),
                    body: match e.hint() {
                        Some(hint) => format!("{e}. {hint}."),
                        None => e.to_string(),
                    },
                },
            );
            // Nothing to serve: wait for Quit rather than vanish from the tray.
            let _ = stopped.wait_for(|stop| *stop).await;
        }
    }
    tracing::info!("Murmur has stopped");
    app.exit(0);
}

/// Keep the tray, the window and notifications in step with every engine until the app ends.
async fn follow(app: tauri::AppHandle, tray: tray::Tray, control: Control) {
    tray.set_wyoming_url(control.about().wyoming_url);
    if !control.manages_engine() {
        tray.show_external(control.status().state == murmur_core::status::State::Ready);
        return;
    }
    let mut changes = control.changes();
    let mut notifiers: Vec<_> = control
        .engines()
        .iter()
        .map(|e| (e.capability, murmur_core::tray::Notifier::default()))
        .collect();
    loop {
        // Every engine, as the control API's status has them.
        let snapshot = control.status();
        tray.show(&snapshot);
        for (capability, notifier) in &mut notifiers {
            let Some(status) = capability.status(&snapshot) else {
                continue;
            };
            for mut notice in notifier.observe(status) {
                if *capability == Capability::Transcription {
                    notice.title = format!("Transcription: {}", notice.title);
                }
                desktop::notify(&app, &notice);
            }
        }
        let _ = app.emit(STATUS_EVENT, &snapshot);
        if changes.next().await.is_none() {
            return;
        }
    }
}

/// Settings, or defaults when the file is broken (the file itself is left as it is; the
/// window shows the error, with the file's path, until it is fixed).
pub(crate) fn load_settings(paths: Option<&Paths>, overrides: &Overrides) -> (Settings, bool) {
    let Some(paths) = paths else {
        return (Settings::default(), false);
    };
    match config::load(&paths.config_file, overrides) {
        Ok(settings) => (settings, false),
        Err(e) => {
            tracing::error!("configuration error, running on defaults: {e}");
            let mut settings = Settings::default();
            overrides.apply(&mut settings);
            (settings, true)
        }
    }
}
