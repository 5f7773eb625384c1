//! The composition root: binding the socket, building the engines, the proxy and
//! Control and handing each what it needs, and serving until shutdown.
//!
//! Shutdown is graceful: on the signal the listener stops accepting, idle keep-alive
//! connections close, in-flight requests run to completion; after `drain` whatever is still
//! running is dropped, so a stuck client can delay exit but never prevent it.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use tokio::net::TcpListener;

use crate::config::{Settings, validate_host};
use crate::control::Control;
use crate::engines::Engines;
use crate::port_owner::{self, PortOwner};
use crate::proxy::ProxyState;
use crate::security::Policy;

mod pace;
mod serve;

pub use crate::front::Front;

pub use serve::{Limits, serve};

/// Why the proxy could not start listening.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("port {port} on {host} is already in use{}", owner_text(.owner))]
    PortInUse {
        host: IpAddr,
        port: u16,
        owner: Option<PortOwner>,
    },
    #[error("cannot listen on {addr}")]
    Io {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("{0:?} is not an IP address")]
    BadHost(String),
}

impl BindError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::PortInUse { port, .. } => Some(format!(
                "stop the other program, or run Murmur on another port (--port, MURMUR_PORT or [proxy] port; now {port})"
            )),
            _ => None,
        }
    }
}

fn owner_text(owner: &Option<PortOwner>) -> String {
    owner
        .as_ref()
        .map(|o| format!(" by {} (pid {})", o.name, o.pid))
        .unwrap_or_default()
}

/// Bind the proxy's address.
pub async fn bind(host: &str, port: u16) -> Result<TcpListener, BindError> {
    let ip = validate_host(host).ok_or_else(|| BindError::BadHost(host.to_string()))?;
    let addr = SocketAddr::new(ip, port);
    match TcpListener::bind(addr).await {
        Ok(listener) => Ok(listener),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(BindError::PortInUse {
            host: ip,
            port,
            // It asks the system (lsof, /proc): on a blocking thread.
            owner: tokio::task::spawn_blocking(move || port_owner::find(port))
                .await
                .ok()
                .flatten(),
        }),
        Err(source) => Err(BindError::Io { addr, source }),
    }
}

/// Resolves on SIGINT or SIGTERM (Ctrl-C elsewhere). The handlers are installed when this is
/// called, not when the future is first polled, so a signal that arrives in between (say,
/// right after the listening line is printed) is not lost to the default action.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let handlers =
            signal(SignalKind::terminate()).and_then(|t| Ok((t, signal(SignalKind::interrupt())?)));
        async move {
            match handlers {
                Ok((mut term, mut int)) => {
                    tokio::select! {
                        _ = term.recv() => tracing::info!("SIGTERM received"),
                        _ = int.recv() => tracing::info!("SIGINT received"),
                    }
                }
                Err(e) => {
                    tracing::warn!("cannot install signal handlers ({e}); stopping on Ctrl-C only");
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Everything Murmur serves over HTTP: Murmur's own routes ([`crate::control`]) and the
/// OpenAI surface ([`crate::proxy`], and [`crate::live`]'s WebSocket), behind one set of
/// guards, through one front door ([`Front`]): the request log with refusals delivered inside
/// it ([`crate::refusal::watch`]), then [`crate::security::admit`] (Host/Origin → CORS → API
/// key), then the route.
pub fn app(proxy: ProxyState, control: Control, policy: Arc<Policy>) -> Front {
    let metrics = proxy.metrics();
    let routes = crate::control::http::router(control)
        .merge(crate::live::router(proxy.clone()))
        .merge(crate::proxy::router(proxy.clone()));
    Front::new(routes, proxy, policy, metrics)
}

/// The page's tests take the proxy's paths, as a client's request would.
struct ProxySpeaker(ProxyState);

impl crate::control::Speaker for ProxySpeaker {
    fn speak(
        &self,
        request: crate::speech_request::SpeechRequest,
    ) -> BoxFuture<'static, Result<axum::response::Response, crate::api_error::ApiError>> {
        let state = self.0.clone();
        Box::pin(async move { crate::proxy::synthesise(&state, request).await })
    }

    fn transcribe(
        &self,
        request: axum::extract::Request,
    ) -> BoxFuture<'static, axum::response::Response> {
        let state = self.0.clone();
        Box::pin(
            async move { crate::proxy::transcriptions(axum::extract::State(state), request).await },
        )
    }
}

/// SIGHUP re-reads the settings file: request defaults apply to the next request, and the
/// engine restarts only if how it is launched changed. A broken file is reported and the
/// running settings kept. Proxy settings (port, limits, security) take effect at the next
/// start. Runs until aborted.
pub async fn reload_on_sighup(control: Control) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            return;
        };
        while hangups.recv().await.is_some() {
            match control.reload().await {
                Ok(()) => tracing::info!("SIGHUP: settings reloaded"),
                Err(e) => tracing::error!("SIGHUP: keeping the running settings: {e}"),
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = control;
    }
}

/// A bound Murmur, ready to serve: what both `murmurd` and the desktop app run.
pub struct Bound {
    pub listener: TcpListener,
    pub app: Front,
    pub addr: SocketAddr,
    /// Murmur's controls, for the tray and for signals (reload).
    pub control: Control,
    /// The proxy's state: the desktop app's dictation and read aloud use its paths.
    pub proxy: ProxyState,
    /// What each client connection may take.
    pub limits: Limits,
    /// How long in-flight requests and live sessions may take to finish at shutdown.
    pub drain: Duration,
    /// What shutdown waits for: connections, and the live sessions they became.
    in_flight: crate::drain::Drain,
    /// The Wyoming server, when `[wyoming] enabled`.
    pub wyoming: Option<Wyoming>,
}

/// A bound Wyoming listener and what it serves.
pub struct Wyoming {
    pub addr: SocketAddr,
    listener: TcpListener,
    proxy: ProxyState,
    settings: crate::config::WyomingSettings,
    data_dir: std::path::PathBuf,
}

impl Bound {
    /// Bind `[proxy] host:port` and build the app for the configured engine.
    pub async fn new(
        settings: &Settings,
        paths: &crate::paths::Paths,
        overrides: &crate::config::Overrides,
    ) -> Result<Self, BindError> {
        let data_dir = paths.data_dir.as_path();
        let listener = bind(&settings.proxy.host, settings.proxy.port).await?;
        let addr = listener.local_addr().map_err(|source| BindError::Io {
            addr: SocketAddr::new(IpAddr::from([127, 0, 0, 1]), settings.proxy.port),
            source,
        })?;
        let client = crate::http_client::new();
        let live = crate::config::LiveSettings::new(settings.clone());
        let metrics = Arc::<crate::metrics::Metrics>::default();
        let engines = Engines::build(&live, paths, &client, metrics.queued_counter());
        let token = crate::control::token::load_or_create(data_dir)
            .inspect_err(|e| {
                tracing::warn!(
                    "control API disabled: cannot create its token in {}: {e}",
                    data_dir.display()
                );
            })
            .ok();
        let in_flight = crate::drain::Drain::new();
        let proxy = ProxyState::new(
            live.clone(),
            engines.clone(),
            metrics,
            client,
            in_flight.lifeline(),
        );
        let wyoming = if settings.wyoming.enabled {
            let w = &settings.wyoming;
            let listener = bind(&w.host, w.port).await?;
            let addr = listener.local_addr().map_err(|source| BindError::Io {
                addr: SocketAddr::new(IpAddr::from([127, 0, 0, 1]), w.port),
                source,
            })?;
            Some(Wyoming {
                addr,
                listener,
                proxy: proxy.clone(),
                settings: w.clone(),
                data_dir: data_dir.to_path_buf(),
            })
        } else {
            None
        };
        let policy = Arc::new(Policy::new(&settings.proxy, addr.port()));
        let control = Control::new(crate::control::Parts {
            token,
            config_file: paths.config_file.clone(),
            overrides: overrides.clone(),
            api_url: format!("http://{addr}/v1"),
            engines,
            live,
            metrics: proxy.metrics(),
            speaker: Arc::new(ProxySpeaker(proxy.clone())),
            policy: policy.clone(),
            catalog: crate::catalog::Catalog::new(data_dir, proxy.voices_changed()),
            models: crate::catalog::models::ModelInstalls::new(data_dir),
            data_dir: data_dir.to_path_buf(),
            wyoming_url: wyoming.as_ref().map(|w| format!("tcp://{}", w.addr)),
            dictations: Arc::new(crate::dictations::History::open(data_dir)),
            desk: std::sync::OnceLock::new(),
        });
        let app = app(proxy.clone(), control.clone(), policy);
        Ok(Self {
            proxy,
            listener,
            app,
            addr,
            control,
            limits: Limits::from_settings(&settings.proxy),
            drain: Duration::from_secs(settings.proxy.shutdown_timeout_secs),
            in_flight,
            wyoming,
        })
    }

    /// The OpenAI base URL clients should use.
    pub fn api_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Serve until `shutdown` resolves, let requests in flight finish (for at most
    /// `[proxy] shutdown_timeout_secs`), then stop the engine: the proxy drains first, so no
    /// request loses its engine halfway. Returns whether every request finished in time.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<bool> {
        let wyoming = self.wyoming.map(|w| {
            tokio::spawn(crate::wyoming::serve(
                w.listener,
                w.proxy,
                w.settings,
                w.data_dir,
                std::future::pending(),
            ))
        });
        let served = serve(
            self.listener,
            self.app,
            shutdown,
            self.in_flight,
            self.drain,
            self.limits,
        )
        .await;
        if let Some(wyoming) = wyoming {
            wyoming.abort();
        }
        self.control.shutdown().await;
        served
    }
}
