//! Errors the proxy answers with, in OpenAI's shape:
//! `{"error":{"message","type","param","code"}}`, plus `stage` and `hint` when Murmur knows them.
//! Internal details stay in the log; the client gets a sentence it can act on.
//!
//! An [`ApiError`] is a [`Problem`] with an HTTP status and a [`Code`]; [`ApiError::body`] is
//! the one place the JSON is built (the control API and the desktop shell's IPC answer with it
//! too).

use std::time::Duration;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

use crate::problem::Problem;

mod code;

pub use code::Code;

/// How long a client is told to wait when the engine is not ready yet.
const NOT_READY_RETRY: Duration = Duration::from_secs(5);

/// An error reply. Build one with the constructors below so each kind keeps one wording.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: Code,
    /// The request field at fault, if one is.
    pub param: Option<&'static str>,
    /// What went wrong; its hint and stage reach the client when it has them.
    pub problem: Problem,
    pub retry_after: Option<Duration>,
    /// Close the connection after answering (the rest of the request is still coming).
    pub close: bool,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<&'a str>,
    code: Code,
    #[serde(skip_serializing_if = "Option::is_none")]
    stage: Option<crate::problem::Stage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<&'a str>,
}

impl ApiError {
    fn new(status: StatusCode, code: Code, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            param: None,
            problem: Problem::new(message),
            retry_after: None,
            close: false,
        }
    }

    /// The sentence the client gets.
    pub fn message(&self) -> &str {
        &self.problem.message
    }

    /// OpenAI's `type`: whose fault it is.
    pub fn kind(&self) -> &'static str {
        if self.status.is_server_error() {
            "server_error"
        } else {
            "invalid_request_error"
        }
    }

    /// The reply's JSON body.
    pub fn body(&self) -> serde_json::Value {
        let body = Body {
            error: Inner {
                message: &self.problem.message,
                kind: self.kind(),
                param: self.param,
                code: self.code,
                stage: self.problem.stage,
                hint: self.problem.hint.as_deref(),
            },
        };
        serde_json::to_value(body).unwrap_or_default()
    }

    /// Answer, then close the connection.
    pub fn closing(mut self) -> Self {
        self.close = true;
        self
    }

    /// The engine went away before answering: sending the request again may work.
    pub fn is_replayable(&self) -> bool {
        matches!(self.code, Code::EngineUnreachable | Code::EngineFailed)
    }

    /// A 400 about one request field.
    pub fn invalid(param: &'static str, code: Code, message: impl Into<String>) -> Self {
        Self {
            param: Some(param),
            ..Self::new(StatusCode::BAD_REQUEST, code, message)
        }
    }

    /// A 422: settings that do not validate (the control API adds each bad field).
    pub fn invalid_settings(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Code::InvalidSettings,
            message,
        )
    }

    pub fn method_not_allowed(method: &http::Method, path: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            Code::MethodNotAllowed,
            format!("{method} is not supported on {path}"),
        )
    }

    /// A 400 about the request as a whole.
    pub fn bad_request(code: Code, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn bad_json(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Code::InvalidJson, message)
    }

    pub fn too_large(limit: u64) -> Self {
        Self::body_too_large(limit, "proxy.max_request_bytes")
    }

    /// A body over `limit` bytes, the setting `key`.
    pub fn body_too_large(limit: u64, key: &str) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            Code::RequestTooLarge,
            format!("the request body is larger than the limit of {limit} bytes ({key})"),
        )
    }

    /// A 413 for what the body holds rather than its size (audio longer than allowed).
    pub fn content_too_large(code: Code, message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, code, message)
    }

    pub fn body_timeout(after: Duration) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            Code::BodyTimeout,
            format!(
                "the request body did not arrive within {} s (proxy.body_timeout_secs)",
                after.as_secs()
            ),
        )
    }

    pub fn too_large_settings(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            Code::RequestTooLarge,
            format!("a settings object is at most {limit} bytes"),
        )
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            Code::InvalidApiKey,
            "missing or incorrect API key: send Authorization: Bearer <proxy.api_key>",
        )
    }

    pub fn unauthorized_control() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            Code::InvalidToken,
            "missing or wrong control token: send Authorization: Bearer <the token in the data folder's control-token file>",
        )
    }

    pub fn forbidden(code: Code, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn conflict(code: Code, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, Code::NotFound, message)
    }

    /// The engine is not ready: the client gets the problem's hint and stage too.
    pub fn not_ready(problem: Problem) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: Code::EngineNotReady,
            param: None,
            problem,
            retry_after: Some(NOT_READY_RETRY),
            close: false,
        }
    }

    /// Every live session Murmur allows is open.
    pub fn too_many_sessions(max: u64) -> Self {
        Self {
            retry_after: Some(Duration::from_secs(5)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                Code::TooManySessions,
                format!(
                    "{max} live sessions are open, the most Murmur allows (transcription.max_live_sessions)"
                ),
            )
        }
    }

    pub fn busy(max_queue: u32) -> Self {
        Self {
            retry_after: Some(Duration::from_secs(1)),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                Code::EngineBusy,
                format!(
                    "the engine is busy and {max_queue} requests are already waiting (proxy.max_queue)"
                ),
            )
        }
    }

    pub fn unreachable(detail: impl std::fmt::Display) -> Self {
        Self {
            retry_after: Some(Duration::from_secs(1)),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                Code::EngineUnreachable,
                format!("the engine could not be reached: {detail}"),
            )
        }
    }

    /// Murmur's own server is not answering (yet): the desktop window's calls.
    pub fn murmur_unavailable(message: impl Into<String>) -> Self {
        Self {
            retry_after: Some(Duration::from_secs(1)),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, Code::Starting, message)
        }
    }

    pub fn bad_gateway(code: Code, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, code, message)
    }

    /// A speech request got no audio for `waited`: the engine is stuck and being restarted.
    pub fn hung(waited: Duration) -> Self {
        Self {
            retry_after: Some(Duration::from_secs(5)),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                Code::EngineStuck,
                format!(
                    "the engine produced no audio within {} s (proxy.first_audio_timeout_secs); \
                     Murmur is restarting it: try again shortly",
                    waited.as_secs()
                ),
            )
        }
    }

    pub fn timeout(after: Duration) -> Self {
        Self::new(
            StatusCode::GATEWAY_TIMEOUT,
            Code::EngineTimeout,
            format!(
                "the engine did not answer within {} s (proxy.upstream_timeout_secs)",
                after.as_secs()
            ),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        if let Some(after) = self.retry_after {
            let secs = after.as_secs().max(1);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.close {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}
