//! Murmur's HTTP guards, one function ([`admit`], called by the front door before the route) in
//! this order: Host allow-list (DNS rebinding), Origin allow-list (a web page in the user's
//! browser must not drive the engine), CORS for the origins configured (a preflight answered
//! here, the allowed origin named on the answers by [`Cors::name_on`]), then the API key. One
//! function rather than a layer each: every layer costs each request its allocations, and a
//! proxy's added latency is mostly such costs.

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::{HeaderName, HeaderValue, Method, StatusCode, header};

use crate::api_error::{ApiError, Code};
use crate::config::ProxySettings;

/// Who may talk to the proxy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Lower-case host names accepted in `Host` (without port).
    hosts: Vec<String>,
    /// Origins accepted in `Origin`: Murmur's own page's, then the configured ones.
    origins: Vec<String>,
    /// Murmur's own page's origins alone (the first of `origins`).
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

    /// The origins `[proxy] allowed_origins` names: CORS is for them alone (none: no CORS
    /// headers ever; Murmur's own page needs none).
    fn configured_origins(&self) -> &[String] {
        &self.origins[self.own.len()..]
    }

    /// The request's `Origin`, as it sent it, if CORS allows it (a configured origin).
    fn cors_origin(&self, headers: &http::HeaderMap) -> Option<HeaderValue> {
        let origin = headers.get(header::ORIGIN)?;
        let text = origin.to_str().ok()?;
        self.configured_origins()
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(text))
            .then(|| origin.clone())
    }
}

/// What a CORS preflight is told may follow, and for how long it may be cached.
const CORS_METHODS: HeaderValue = HeaderValue::from_static("GET,POST,PUT,DELETE,OPTIONS");
const CORS_HEADERS: HeaderValue = HeaderValue::from_static("authorization,content-type,accept");
const CORS_MAX_AGE: HeaderValue = HeaderValue::from_static("600");

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

/// The guards, for every path: Host and Origin, CORS, the API key (see the module docs).
pub fn admit(policy: &Policy, request: &Request) -> Admission {
    if let Some(refusal) = refused_origin(policy, request) {
        return Admission::Stopped(refusal.into_response());
    }
    let cors = Cors {
        origin: policy.cors_origin(request.headers()),
        named: !policy.configured_origins().is_empty(),
    };
    let stopped = if is_preflight(request) {
        preflight(cors.origin.is_some())
    } else if key_needed(policy, request) && !policy.key_matches(request.headers()) {
        ApiError::unauthorized().into_response()
    } else {
        return Admission::Served(cors);
    };
    Admission::Stopped(cors.name_on(stopped))
}

/// What the guards decided.
pub enum Admission {
    /// The request is served, and its answer then carries [`Cors`].
    Served(Cors),
    /// The answer to a request they stop: a refusal, or a CORS preflight's answer.
    Stopped(Response),
}

/// What CORS adds to the answer of a request the guards let through.
pub struct Cors {
    /// The request's origin, when it is one CORS allows.
    origin: Option<HeaderValue>,
    /// Whether any origin is configured: then every answer varies by origin.
    named: bool,
}

impl Cors {
    /// `response` with the allowed origin named on it (and `Vary: origin`).
    pub fn name_on(self, mut response: Response) -> Response {
        if self.named {
            let headers = response.headers_mut();
            if let Some(origin) = self.origin {
                headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            }
            headers.append(header::VARY, HeaderValue::from_static("origin"));
        }
        response
    }
}

/// A browser asking whether it may send a cross-origin request.
fn is_preflight(request: &Request) -> bool {
    request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// The answer to a preflight: what may follow, if the origin is allowed (the allowed origin
/// itself is added by [`Cors::name_on`]).
fn preflight(allowed: bool) -> Response {
    let mut response = StatusCode::OK.into_response();
    if allowed {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, CORS_METHODS);
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, CORS_HEADERS);
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, CORS_MAX_AGE);
    }
    response
}

/// Host and Origin: the refusal, if the request is refused.
fn refused_origin(policy: &Policy, request: &Request) -> Option<ApiError> {
    let host = match one_host(request) {
        Ok(host) => host,
        Err(refusal) => return Some(refusal),
    };
    if let Some(refusal) = cross_site(request) {
        return Some(refusal);
    }
    let host = host.to_str().unwrap_or("");
    if !policy.host_allowed(host) {
        tracing::warn!(
            host,
            "refused a request for a host name that is not allowed"
        );
        return Some(ApiError::forbidden(
            Code::HostNotAllowed,
            format!("host {host:?} is not allowed; add it to proxy.allowed_hosts if you meant it"),
        ));
    }
    if let Some(origin) = request.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        if !policy.origin_allowed(origin) {
            tracing::warn!(
                origin,
                "refused a request from a web page that is not allowed"
            );
            return Some(ApiError::forbidden(
                Code::OriginNotAllowed,
                format!(
                    "web pages from {origin} may not use Murmur; add it to proxy.allowed_origins to allow it"
                ),
            ));
        }
    }
    None
}

/// Exactly one `Host` (which this returns), and an absolute-form target (`POST http://a/…`)
/// that names the same: anything else is a confused or smuggled request.
fn one_host(request: &Request) -> Result<&HeaderValue, ApiError> {
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
    Ok(host)
}

const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");
const SEC_FETCH_MODE: HeaderName = HeaderName::from_static("sec-fetch-mode");

/// A browser marks requests one site makes to another (`Sec-Fetch-Site`). Those that carry
/// an `Origin` are judged by it; those that do not are "no-cors" requests (an `<img>`, a
/// `<script>`, a form's GET), which no page has a reason to make to Murmur and which could
/// start the engine: only following a link to Murmur's own page is let through.
fn cross_site(request: &Request) -> Option<ApiError> {
    let headers = request.headers();
    let site = headers.get(SEC_FETCH_SITE)?.to_str().ok()?;
    if !matches!(site, "cross-site" | "same-site") || headers.contains_key(header::ORIGIN) {
        return None;
    }
    let navigation = headers
        .get(SEC_FETCH_MODE)
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

/// Whether the API key is asked of this request: everything that reaches the engine, but not
/// Murmur's own paths (`/murmur/…`, the control token guards those), the listings clients
/// fetch without a key (unless `discovery_requires_key`), or an `OPTIONS` (a preflight carries
/// no credentials).
fn key_needed(policy: &Policy, request: &Request) -> bool {
    let path = request.uri().path();
    let own = path == "/murmur" || path.starts_with("/murmur/");
    let discovery = matches!(*request.method(), Method::GET | Method::HEAD)
        && DISCOVERY.contains(&path.strip_prefix("/v1").unwrap_or(path))
        && !policy.discovery_requires_key;
    !(own || discovery || request.method() == Method::OPTIONS)
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
