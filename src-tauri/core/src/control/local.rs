//! The control API as a Rust client, for the settings window: a process of its own (so that
//! closing it returns all of WebKit's memory), it calls the tray's Murmur over loopback HTTP.
//! Its requests reach the same handlers as the status page's (token, validation, error shapes
//! and all), and no token appears in any URL. (The tray itself holds a [`super::Control`].)

use axum::body::{Body, Bytes};
use http::{HeaderValue, Method, Request, StatusCode, header};
use http_body_util::BodyExt;

use super::EngineAction;

/// Bodies larger than this are refused (speech for a test phrase is well under it).
const MAX_BODY: usize = 32 * 1024 * 1024;

/// A client of one Murmur's control API. Cheap to clone.
#[derive(Clone)]
pub struct LocalApi {
    transport: Transport,
    host: HeaderValue,
    token: HeaderValue,
    api_key: Option<HeaderValue>,
}

/// What a call answered.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: Option<String>,
    pub body: Bytes,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// The body as JSON (`null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Why a call was not made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LocalError {
    #[error("{0} is not part of the API the window may call")]
    NotAllowed(String),
    #[error("{0:?} is not an HTTP method")]
    BadMethod(String),
    #[error("the control API is not available: {0}")]
    Unavailable(String),
}

#[derive(Clone)]
enum Transport {
    /// The front door itself, called directly.
    InProcess(crate::front::Front),
    /// A running Murmur over loopback HTTP.
    Http(crate::http_client::HttpClient),
}

impl LocalApi {
    /// `app` is the bound proxy's front door at `addr`; `token` its control token; `api_key`
    /// the proxy's key, if one is set (sent with the few `/v1` reads the window makes).
    pub fn new(
        app: crate::front::Front,
        addr: std::net::SocketAddr,
        token: &str,
        api_key: Option<&str>,
    ) -> Result<Self, LocalError> {
        Self::with(Transport::InProcess(app), addr, token, api_key)
    }

    /// The Murmur listening on `addr`, over HTTP.
    pub fn remote(
        addr: std::net::SocketAddr,
        token: &str,
        api_key: Option<&str>,
    ) -> Result<Self, LocalError> {
        let transport = Transport::Http(crate::http_client::new());
        Self::with(transport, addr, token, api_key)
    }

    fn with(
        transport: Transport,
        addr: std::net::SocketAddr,
        token: &str,
        api_key: Option<&str>,
    ) -> Result<Self, LocalError> {
        let header = |value: String| {
            HeaderValue::from_str(&value).map_err(|e| LocalError::Unavailable(e.to_string()))
        };
        Ok(Self {
            transport,
            host: header(addr.to_string())?,
            token: header(format!("Bearer {}", token.trim()))?,
            api_key: api_key.map(|k| header(format!("Bearer {k}"))).transpose()?,
        })
    }

    /// Whether the window may call `method path`: the control API (but its event stream,
    /// which the shell forwards as events instead) and the engine's voice and model lists.
    pub fn allows(method: &Method, path: &str) -> bool {
        let path = path.split('?').next().unwrap_or_default();
        if path.contains("..") || path.contains("//") {
            return false;
        }
        if path.starts_with("/murmur/api/") {
            return path != "/murmur/api/events";
        }
        *method == Method::GET && matches!(path, "/v1/audio/voices" | "/v1/models")
    }

    /// Call `method path` with an optional JSON body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Reply, LocalError> {
        let body = body.map(|b| (b, HeaderValue::from_static("application/json")));
        self.call_with(method, path, body).await
    }

    /// `POST path` with `body` of `content_type` (the page's Record and Transcribe a file
    /// send a multipart form).
    pub async fn upload(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<Reply, LocalError> {
        let content_type = HeaderValue::from_str(content_type)
            .map_err(|_| LocalError::NotAllowed(format!("content type {content_type:?}")))?;
        self.call_with("POST", path, Some((body, content_type)))
            .await
    }

    async fn call_with(
        &self,
        method: &str,
        path: &str,
        body: Option<(Vec<u8>, HeaderValue)>,
    ) -> Result<Reply, LocalError> {
        let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            .map_err(|_| LocalError::BadMethod(method.to_string()))?;
        if !Self::allows(&method, path) {
            return Err(LocalError::NotAllowed(format!("{method} {path}")));
        }
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, self.host.clone());
        request = if path.starts_with("/v1/") {
            match &self.api_key {
                Some(key) => request.header(header::AUTHORIZATION, key.clone()),
                None => request,
            }
        } else {
            request.header(header::AUTHORIZATION, self.token.clone())
        };
        let body = match body {
            Some((bytes, content_type)) => {
                request = request.header(header::CONTENT_TYPE, content_type);
                Body::from(bytes)
            }
            None => Body::empty(),
        };
        let request = request
            .body(body)
            .map_err(|_| LocalError::NotAllowed(path.to_string()))?;
        let response = self.send(request).await?;
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let body = http_body_util::Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map(|collected| collected.to_bytes())
            .map_err(|e| LocalError::Unavailable(format!("reading the answer: {e}")))?;
        Ok(Reply {
            status,
            content_type,
            body,
        })
    }

    async fn send(&self, mut request: Request<Body>) -> Result<http::Response<Body>, LocalError> {
        match &self.transport {
            Transport::InProcess(app) => Ok(app.answer(request).await),
            Transport::Http(client) => {
                let host = self.host.to_str().unwrap_or_default();
                let path = request
                    .uri()
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/");
                *request.uri_mut() = format!("http://{host}{path}")
                    .parse()
                    .map_err(|e: http::uri::InvalidUri| LocalError::Unavailable(e.to_string()))?;
                let response = client
                    .request(request)
                    .await
                    .map_err(|e| LocalError::Unavailable(crate::http_client::describe(&e)))?;
                Ok(response.map(Body::new))
            }
        }
    }

    /// Follow `GET /murmur/api/events`: `on_status` gets the current status, then each change,
    /// until the stream ends (Murmur stopped) or fails.
    pub async fn follow(
        &self,
        mut on_status: impl FnMut(serde_json::Value),
    ) -> Result<(), LocalError> {
        let request = Request::get("/murmur/api/events")
            .header(header::HOST, self.host.clone())
            .header(header::AUTHORIZATION, self.token.clone())
            .body(Body::empty())
            .map_err(|e| LocalError::Unavailable(e.to_string()))?;
        let response = self.send(request).await?;
        if !response.status().is_success() {
            return Err(LocalError::Unavailable(format!(
                "the event stream answered {}",
                response.status()
            )));
        }
        let mut body = response.into_body();
        let mut pending = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| LocalError::Unavailable(e.to_string()))?;
            let Some(data) = frame.data_ref() else {
                continue;
            };
            pending.extend_from_slice(data);
            // One event per blank line; only `data:` lines carry the status.
            while let Some(end) = find_blank_line(&pending) {
                let event: Vec<u8> = pending.drain(..end + 2).collect();
                let text = String::from_utf8_lossy(&event);
                let data: String = text
                    .lines()
                    .filter_map(|line| line.strip_prefix("data:"))
                    .map(str::trim_start)
                    .collect();
                if let Ok(status) = serde_json::from_str(&data) {
                    on_status(status);
                }
            }
        }
        Ok(())
    }

    /// `POST /murmur/api/engine/{start,stop,restart}`.
    pub async fn engine(&self, action: EngineAction) -> Result<Reply, LocalError> {
        let path = format!("/murmur/api/engine/{}", action.as_str());
        self.call("POST", &path, None).await
    }

    /// `POST /murmur/api/speak-test`: a WAV of `text` (the default phrase when `None`).
    pub async fn speak_test(&self, text: Option<&str>) -> Result<Reply, LocalError> {
        let body = serde_json::json!({ "text": text });
        self.call(
            "POST",
            "/murmur/api/speak-test",
            Some(body.to_string().into_bytes()),
        )
        .await
    }
}

fn find_blank_line(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|pair| pair == b"\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_reaches_the_control_api_and_the_engine_lists_only() {
        let get = Method::GET;
        assert!(LocalApi::allows(&get, "/murmur/api/status"));
        assert!(LocalApi::allows(
            &Method::POST,
            "/murmur/api/engine/restart"
        ));
        assert!(LocalApi::allows(&get, "/murmur/api/logs?lines=20"));
        assert!(LocalApi::allows(&get, "/v1/audio/voices"));
        assert!(LocalApi::allows(&get, "/v1/models"));
        assert!(!LocalApi::allows(&get, "/murmur/api/events"));
        assert!(!LocalApi::allows(&Method::POST, "/v1/audio/speech"));
        assert!(!LocalApi::allows(&get, "/v1/files"));
        assert!(!LocalApi::allows(&get, "/murmur/api/../../v1/files"));
        assert!(!LocalApi::allows(
            &get,
            "http://example.com/murmur/api/status"
        ));
    }
}
