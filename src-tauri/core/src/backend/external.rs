//! `[engine] id = "external"` and `[transcription] engine = "external"`: a server Murmur
//! does not manage. Readiness is a probe of `probe_path`; a refused connection later makes
//! the next request probe again.

use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use crate::backend::{Backend, SingleFlight, Upstream};
use crate::config::Settings;
use crate::engine::Capability;
use crate::http_client::{self, HttpClient, Probe};
use crate::problem::{Problem, Stage};

/// The backend for a server Murmur does not run: it probes the server, and forwards to it
/// once it answers. (The engine itself, as data, is [`crate::engine::external::External`].)
pub struct Forwarder {
    upstream: Option<Upstream>,
    url: String,
    probe_url: String,
    timeout: Duration,
    client: HttpClient,
    flight: SingleFlight,
    /// The section it is configured in, for hints: `engine` or `transcription`.
    section: &'static str,
}

impl Forwarder {
    /// The server at `[engine] url` (speech) or `[transcription] url`.
    pub fn serving(capability: Capability, settings: &Settings, client: HttpClient) -> Self {
        let (url, probe_path) = match capability {
            Capability::Speech => (&settings.engine.url, &settings.engine.probe_path),
            Capability::Transcription => (
                &settings.transcription.url,
                &settings.transcription.probe_path,
            ),
        };
        let url = url.clone().unwrap_or_default();
        Self::at(&url, probe_path, capability.section(), settings, client)
    }

    fn at(
        url: &str,
        probe_path: &str,
        section: &'static str,
        settings: &Settings,
        client: HttpClient,
    ) -> Self {
        let url = url.trim_end_matches('/').to_string();
        // Validation guarantees an http URL with a host; keep a None rather than panic if not.
        let upstream = url.parse::<http::Uri>().ok().and_then(|uri| {
            let tls = uri.scheme_str() == Some("https");
            let authority = uri.authority().cloned()?;
            Some(if tls {
                Upstream::tls(authority)
            } else {
                Upstream::new(authority)
            })
        });
        Self {
            probe_url: format!("{url}{probe_path}"),
            url,
            upstream,
            timeout: Duration::from_secs(settings.supervisor.health_timeout_secs),
            client,
            flight: SingleFlight::default(),
            section,
        }
    }
}

impl Backend for Forwarder {
    fn ensure_ready(&self) -> BoxFuture<'_, Result<Upstream, Problem>> {
        // The usual request: it answered before, nothing to prepare.
        if let Some(ready) = self.flight.ready() {
            return futures_util::future::ready(Ok(ready)).boxed();
        }
        let Some(upstream) = self.upstream.clone() else {
            let err = Problem::new(format!(
                "the external engine URL {:?} is not usable",
                self.url
            ));
            return async move { Err(err) }.boxed();
        };
        let (client, probe_url, url, timeout, section) = (
            self.client.clone(),
            self.probe_url.clone(),
            self.url.clone(),
            self.timeout,
            self.section,
        );
        self.flight
            .run(move || {
                async move {
                    tracing::info!(%probe_url, "probing the external engine");
                    let hint = format!("start the server at {url}, or change [{section}] url");
                    match http_client::probe(&client, &probe_url, timeout).await {
                        Probe::Ok => Ok(upstream),
                        Probe::Status(status) => Err(Problem::new(format!(
                            "the external engine answered {status} at {probe_url}"
                        ))
                        .at(Stage::Probing)
                        .hint(hint)),
                        Probe::Unreachable(why) | Probe::Foreign(why) => Err(Problem::new(
                            format!("the external engine at {url} is not reachable: {why}"),
                        )
                        .at(Stage::Probing)
                        .hint(hint)),
                    }
                }
                .boxed()
            })
            .boxed()
    }

    fn current(&self) -> Option<Upstream> {
        self.upstream.clone()
    }

    fn report_unreachable(&self, upstream: &Upstream) {
        self.flight.invalidate(upstream);
    }

    fn is_ready(&self) -> bool {
        self.flight.ready().is_some()
    }
}
