//! Murmur's front door: every request passes here once, whatever it is for — the request log
//! and metrics around it ([`request_log`]), refusals delivered ([`crate::refusal`]), the guards
//! ([`security`]: Host, Origin, CORS, API key), then the routes, or, for a path that is none
//! of Murmur's, straight to the engine ([`proxy::pass_through`]).
//!
//! One function, with one boxed future per request (the connection's service, `server`'s
//! `Paced`, boxes it). As axum middleware (`from_fn`, applied per route) the same two steps
//! cost each request a boxed future and a boxed copy of the service apiece: measured on a
//! forwarded GET, about 10 µs of CPU, a sixth of all Murmur spent on it. A forwarded request
//! skips axum's router, whose routing, boxed handler and fallback were 7 % of the
//! instructions Murmur spent on it (callgrind).

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::response::{IntoResponse, Response};

use crate::metrics::Metrics;
use crate::proxy::{self, ProxyState};
use crate::request_log;
use crate::security::{self, Policy};

/// What serves every connection: see the module's documentation. Cheap to clone.
#[derive(Clone)]
pub struct Front(Arc<Inner>);

struct Inner {
    routes: Router,
    /// What a path that is none of the routes' is forwarded with.
    proxy: ProxyState,
    policy: Arc<Policy>,
    metrics: Arc<Metrics>,
}

impl Front {
    pub fn new(
        routes: Router,
        proxy: ProxyState,
        policy: Arc<Policy>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self(Arc::new(Inner {
            routes,
            proxy,
            policy,
            metrics,
        }))
    }

    /// Answer one request.
    pub fn answer(
        &self,
        request: axum::extract::Request,
    ) -> impl Future<Output = Response> + Send + 'static {
        self.clone().answer_holding(request, None)
    }

    /// Answer one request that holds `until_sent` until its answer has been sent. Takes the
    /// front door (a clone) rather than borrowing it: the future is the request's whole task,
    /// not a part of a bigger one.
    pub async fn answer_holding(
        self,
        request: axum::extract::Request,
        until_sent: Option<request_log::UntilSent>,
    ) -> Response {
        let Inner {
            routes,
            proxy,
            policy,
            metrics,
        } = &*self.0;
        // One frame for every step (each step a function before or after the one await): as
        // a chain of async functions, each holding the request, the frame was ~5.8 KB, a
        // fresh allocation per request that the request filled in as it went (its cache
        // lines cold every time), and most of it copies of the request.
        let begun = request_log::begin(metrics, &request, until_sent);
        let (request, watch) = crate::refusal::watch(request);
        let mut response = match security::admit(policy, &request) {
            security::Admission::Stopped(stopped) => {
                drop(request);
                stopped
            }
            security::Admission::Served(cors) => {
                let response = if forwarded(request.uri().path()) {
                    proxy::pass_through(proxy, request).await.into_response()
                } else {
                    // A Router is always ready, and its error is `Infallible`.
                    tower::Service::<axum::extract::Request>::call(&mut routes.clone(), request)
                        .await
                        .unwrap_or_else(|never: Infallible| match never {})
                };
                cors.name_on(response)
            }
        };
        // Refusals are delivered inside the log, so it sees what the client got.
        if let Some(watch) = watch {
            response = watch.deliver(response).await;
        }
        begun.finish(response)
    }
}

/// Whether a request for `path` goes straight to the engine: it is none of the proxy's
/// routes, the live sessions' or Murmur's own (`/murmur…`, the router's `/murmur/{*rest}`
/// included). Those routers are built from the same lists. The router's fallback forwards
/// too, so a path kept from here by mistake is still forwarded, only later.
fn forwarded(path: &str) -> bool {
    !(path.starts_with("/murmur") || proxy::answers(path) || crate::live::PATHS.contains(&path))
}

#[cfg(test)]
mod tests {
    use super::forwarded;

    #[test]
    fn only_paths_none_of_the_routes_serve_go_straight_to_the_engine() {
        for own in [
            "/v1/audio/speech",
            "/audio/speech",
            "/v1/models",
            "/models",
            "/v1/audio/voices",
            "/v1/audio/models",
            "/v1/audio/transcriptions",
            "/audio/translations",
            "/v1/realtime",
            "/realtime",
            "/murmur",
            "/murmur/",
            "/murmur/api/status",
            "/murmur/no-such-page",
        ] {
            assert!(!forwarded(own), "{own} is Murmur's");
        }
        for engines in [
            "/",
            "/probe",
            "/health",
            "/v1/chat/completions",
            "/v1/audio/speech/",
            "/V1/models",
            "/v1/realtime/x",
        ] {
            assert!(forwarded(engines), "{engines} is the engine's");
        }
    }
}
