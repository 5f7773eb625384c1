//! Murmur's desktop shell. It starts the same core as `murmurd` (proxy first) and lives in the
//! tray. Every behaviour is in `murmur-core`; this crate only wires the desktop to it.

mod tray;
mod window;

use std::path::PathBuf;
use std::time::Duration;

use murmur_core::config::{self, Overrides, Settings};
use murmur_core::paths::Paths;
use murmur_core::server::{self, Bound};
use tauri::{Manager, RunEvent};
use tokio::sync::watch;

/// Sends "stop" to the proxy task; the task reports back when it has drained.
pub struct Shutdown {
    stop: watch::Sender<bool>,
}

/// The running core, for the tray's actions (managed once the proxy is up).
pub struct Core {
    pub backend: std::sync::Arc<dyn murmur_core::backend::Backend>,
    /// The status page, with the control token in the fragment.
    pub page_url: String,
    pub log_dir: PathBuf,
}

pub fn run() {
    let paths = resolve_paths();
    let (_log_guard, _) = match &paths {
        Some(paths) => murmur_core::logging::init(&paths.log_dir, "murmur"),
        None => (None, None),
    };
    let overrides = Overrides::from_env().unwrap_or_default();
    let settings = load_settings(paths.as_ref(), &overrides);
    let paths = paths.unwrap_or_else(|| Paths::under(&std::env::temp_dir().join("murmur")));
    let (stop, stopped) = watch::channel(false);

    let app = tauri::Builder::default()
        .manage(Shutdown { stop })
        .setup(move |app| {
            let tray = tray::build(app.handle())?;
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(serve(settings, paths, overrides, stopped, handle, tray));
            Ok(())
        })
        .build(tauri::generate_context!("../tauri.conf.json"))
        .expect("invariant: the Tauri context is generated at build time and valid");

    app.run(|_handle, event| {
        // A tray app keeps running when its last window closes; only an explicit exit
        // (with a code) ends it.
        if let RunEvent::ExitRequested {
            code: None, api, ..
        } = event
        {
            api.prevent_exit();
        }
    });
}

/// Ask the proxy to drain and stop; the app exits once it has.
pub fn quit(app: &tauri::AppHandle) {
    let _ = app.state::<Shutdown>().stop.send(true);
}

async fn serve(
    settings: Settings,
    paths: Paths,
    overrides: Overrides,
    mut stopped: watch::Receiver<bool>,
    app: tauri::AppHandle,
    tray: tray::Tray,
) {
    match Bound::new(&settings, &paths, &overrides).await {
        Ok(bound) => {
            let backend = bound.backend.clone();
            let token =
                std::fs::read_to_string(paths.data_dir.join("control-token")).unwrap_or_default();
            let page_url = format!("http://{}/murmur/#token={}", bound.addr, token.trim());
            app.manage(Core {
                backend: backend.clone(),
                page_url,
                log_dir: paths.log_dir.clone(),
            });
            tauri::async_runtime::spawn(tray::follow(tray, backend.clone()));
            tracing::info!("Murmur is listening on {}", bound.api_url());
            let drain = Duration::from_secs(settings.proxy.shutdown_timeout_secs);
            let shutdown = async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            if let Err(e) = server::serve(bound.listener, bound.app, shutdown, drain).await {
                tracing::error!("server error: {e}");
            }
            backend.shutdown().await;
        }
        Err(e) => {
            tracing::error!("{e}");
            // Nothing to serve: wait for Quit rather than vanish from the tray.
            let _ = stopped.wait_for(|stop| *stop).await;
        }
    }
    app.exit(0);
}

fn resolve_paths() -> Option<Paths> {
    let env_path = |var| std::env::var_os(var).map(PathBuf::from);
    Paths::resolve(
        env_path(config::env::DATA_DIR).as_deref(),
        env_path(config::env::CONFIG).as_deref(),
    )
}

/// Settings, or defaults when the file is broken (the file itself is left as it is).
fn load_settings(paths: Option<&Paths>, overrides: &Overrides) -> Settings {
    let Some(paths) = paths else {
        return Settings::default();
    };
    match config::load(&paths.config_file, overrides) {
        Ok(settings) => settings,
        Err(e) => {
            tracing::error!("configuration error, running on defaults: {e}");
            Settings::default()
        }
    }
}
