//! Murmur's HTTP guards, as middleware in this order: Host allow-list (DNS rebinding), Origin
//! allow-list (a web page in the user's browser must not drive the engine), then the API key.
//! CORS headers themselves come from tower-http's `CorsLayer`, configured from the same list.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::api_error::{ApiError, Code};
use crate::config::ProxySettings;

/// Who may talk to the proxy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Lower-case host names accepted in `Host` (without port).
    hosts: Vec<String>,
    /// Origins accepted in `Origin`: configured ones plus Murmur's own page.
    origins: Vec<String>,
    /// Murmur's own page's origins alone.
    own: Vec<String>,
    api_key: Option<String>,
    /// Listing models and voices needs the key too.
    discovery_requires_key: bool,
}

impl Policy {
    /// `port` is the port actually bound (it differs from settings when settings say 0).
    pub fn new(settings: &ProxySettings, port: u16) -> Self {
        let mut hosts: Vec<String> = ["127.0.0.1", "localhost", "[::1]", "::1"]
            .into_iter()
            .map(String::from)
            .collect();
        hosts.push(settings.host.to_ascii_lowercase());
        if settings.host.contains(':') && !settings.host.starts_with('[') {
            hosts.push(format!("[{}]", settings.host.to_ascii_lowercase()));
        }
        hosts.extend(
            settings
                .allowed_hosts
                .iter()
                .map(|h| h.to_ascii_lowercase()),
        );

        let own: Vec<String> = ["127.0.0.1", "localhost", "[::1]"]
            .iter()
            .map(|host| format!("http://{host}:{port}"))
            .collect();
        let mut origins = own.clone();
        origins.extend(
            settings
                .allowed_origins
                .iter()
                .map(|o| o.trim_end_matches('/').to_string()),
        );
        Self {
            hosts,
            origins,
            own,
            api_key: settings.api_key.clone(),
            discovery_requires_key: settings.discovery_requires_key,
        }
    }

    fn host_allowed(&self, host: &str) -> bool {
        let name = match host.rfind(':') {
            // `[::1]:8080` or `name:8080`; a bare `::1` has colons but no port.
            Some(i) if host.starts_with('[') || host[..i].find(':').is_none() => {
                if host.starts_with('[') && !host[..i].ends_with(']') {
                    host
                } else {
                    &host[..i]
                }
            }
            _ => host,
        };
        self.hosts
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(name))
    }

    /// Murmur's own page (not merely an allowed one).
    pub fn is_own_origin(&self, origin: &str) -> bool {
        self.own.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        self.origins
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(origin))
    }

    fn key_matches(&self, headers: &http::HeaderMap) -> bool {
        let Some(key) = &self.api_key else {
            return true;
        };
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then_some(token)
            })
            .unwrap_or("");
        constant_time_eq(given.trim().as_bytes(), key.as_bytes())
            || websocket_key(headers)
                .is_some_and(|k| constant_time_eq(k.as_bytes(), key.as_bytes()))
    }

    /// CORS for the configured origins only; with none configured, no CORS headers ever.
    pub fn cors_layer(&self, settings: &ProxySettings) -> CorsLayer {
        let origins: Vec<HeaderValue> = settings
            .allowed_origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok())
            .collect();
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
            .max_age(std::time::Duration::from_secs(600))
    }
}

/// The key a browser's WebSocket sends as a subprotocol (`openai-insecure-api-key.<key>`):
/// browsers cannot set `Authorization` on a WebSocket, so OpenAI's clients send it this way.
fn websocket_key(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| p.trim().strip_prefix("openai-insecure-api-key."))
}

/// Host and Origin checks, for every path.
pub async fn guard_origin(
    State(policy): State<Arc<Policy>>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    if let Err(refusal) = one_host(&request) {
        return refusal.into_response();
    }
    if let Some(refusal) = cross_site(&request) {
        return refusal.into_response();
    }
    if let Some(host) = headers.get(header::HOST) {
        let host = host.to_str().unwrap_or("");
        if !policy.host_allowed(host) {
            tracing::warn!(
                host,
                "refused a request for a host name that is not allowed"
            );
            return ApiError::forbidden(
                Code::HostNotAllowed,
                format!(
                    "host {host:?} is not allowed; add it to proxy.allowed_hosts if you meant it"
                ),
            )
            .into_response();
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        if !policy.origin_allowed(origin) {
            tracing::warn!(
                origin,
                "refused a request from a web page that is not allowed"
            );
            return ApiError::forbidden(
                Code::OriginNotAllowed,
                format!("web pages from {origin} may not use Murmur; add it to proxy.allowed_origins to allow it"),
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// Exactly one `Host`, and an absolute-form target (`POST http://a/…`) that names the same:
/// anything else is a confused or smuggled request.
fn one_host(request: &Request) -> Result<(), ApiError> {
    let mut hosts = request.headers().get_all(header::HOST).iter();
    let (Some(host), None) = (hosts.next(), hosts.next()) else {
        return Err(ApiError::bad_request(
            Code::BadHost,
            "a request needs exactly one Host header",
        ));
    };
    if let Some(authority) = request.uri().authority()
        && !host
            .to_str()
            .is_ok_and(|h| h.eq_ignore_ascii_case(authority.as_str()))
    {
        return Err(ApiError::bad_request(
            Code::BadHost,
            "the request's target names another host than its Host header",
        ));
    }
    Ok(())
}

/// A browser marks requests one site makes to another (`Sec-Fetch-Site`). Those that carry
/// an `Origin` are judged by it; those that do not are "no-cors" requests (an `<img>`, a
/// `<script>`, a form's GET), which no page has a reason to make to Murmur and which could
/// start the engine: only following a link to Murmur's own page is let through.
fn cross_site(request: &Request) -> Option<ApiError> {
    let headers = request.headers();
    let site = headers.get("sec-fetch-site")?.to_str().ok()?;
    if !matches!(site, "cross-site" | "same-site") || headers.contains_key(header::ORIGIN) {
        return None;
    }
    let navigation = headers
        .get("sec-fetch-mode")
        .is_some_and(|m| m.as_bytes() == b"navigate");
    let page = request.uri().path().starts_with("/murmur");
    if request.method() == Method::GET && navigation && page {
        return None;
    }
    Some(ApiError::forbidden(
        Code::CrossSite,
        "web pages on other sites may not use Murmur",
    ))
}

/// What clients list without a key (Open WebUI never sends one for these).
const DISCOVERY: [&str; 3] = ["/models", "/audio/models", "/audio/voices"];

/// The API key, for everything that reaches the engine (all but `/murmur/…`). Preflight
/// requests carry no credentials; they never get this far unless CORS let them through.
pub async fn require_key(
    State(policy): State<Arc<Policy>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let own = path == "/murmur" || path.starts_with("/murmur/");
    let discovery = matches!(*request.method(), Method::GET | Method::HEAD)
        && DISCOVERY.contains(&path.strip_prefix("/v1").unwrap_or(path))
        && !policy.discovery_requires_key;
    if own
        || discovery
        || request.method() == Method::OPTIONS
        || policy.key_matches(request.headers())
    {
        next.run(request).await
    } else {
        ApiError::unauthorized().into_response()
    }
}

/// Compare secrets (the API key, the control token) in time that does not depend on where
/// they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        let settings = ProxySettings {
            allowed_hosts: vec!["murmur.local".into()],
            allowed_origins: vec!["http://localhost:3000".into()],
            ..ProxySettings::default()
        };
        Policy::new(&settings, 19281)
    }

    #[test]
    fn loopback_and_configured_hosts_pass_with_any_port() {
        let p = policy();
        for ok in [
            "127.0.0.1",
            "127.0.0.1:19281",
            "localhost:1",
            "LOCALHOST",
            "[::1]:19281",
            "[::1]",
            "murmur.local:80",
        ] {
            assert!(p.host_allowed(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:19281",
            "127.0.0.1.evil.example",
            "[::2]:1",
            "localhost.evil:1",
        ] {
            assert!(!p.host_allowed(bad), "{bad}");
        }
    }

    #[test]
    fn own_and_configured_origins_pass() {
        let p = policy();
        assert!(p.origin_allowed("http://127.0.0.1:19281"));
        assert!(p.origin_allowed("http://localhost:3000"));
        assert!(!p.origin_allowed("http://localhost:3001"));
        assert!(!p.origin_allowed("https://evil.example"));
        assert!(!p.origin_allowed("null"));
    }
}
