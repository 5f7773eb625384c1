//! Errors the proxy answers with, in OpenAI's shape:
//! `{"error":{"message","type","param","code"}}`. Internal details stay in the log; the client
//! gets a sentence it can act on.

use std::time::Duration;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

use crate::backend::NotReady;

/// An error reply. Build one with the constructors below so each kind keeps one wording.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub kind: &'static str,
    pub param: Option<&'static str>,
    pub code: &'static str,
    /// How far an engine start got, and what to do: only for "not ready" errors.
    pub detail: Option<Box<Detail>>,
    pub retry_after: Option<Duration>,
    /// Close the connection after answering (the rest of the request is still coming).
    pub close: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    pub stage: Option<String>,
    pub hint: Option<String>,
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
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    stage: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<&'a str>,
}

impl ApiError {
    fn new(
        status: StatusCode,
        kind: &'static str,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            message: message.into(),
            kind,
            param: None,
            code,
            detail: None,
            retry_after: None,
            close: false,
        }
    }

    /// Answer, then close the connection.
    pub fn closing(mut self) -> Self {
        self.close = true;
        self
    }

    /// The engine went away before answering: sending the request again may work.
    pub fn is_replayable(&self) -> bool {
        matches!(self.code, "engine_unreachable" | "engine_failed")
    }

    /// A 400 about one request field.
    pub fn invalid(param: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            param: Some(param),
            ..Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                code,
                message,
            )
        }
    }

    pub fn method_not_allowed(method: &http::Method, path: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request_error",
            "method_not_allowed",
            format!("{method} is not supported on {path}"),
        )
    }

    /// A 400 about the request as a whole.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            code,
            message,
        )
    }

    pub fn bad_json(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "invalid_json",
            message,
        )
    }

    pub fn too_large(limit: u64) -> Self {
        Self::body_too_large(limit, "proxy.max_request_bytes")
    }

    /// A body over `limit` bytes, the setting `key`.
    pub fn body_too_large(limit: u64, key: &str) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            "request_too_large",
            format!("the request body is larger than the limit of {limit} bytes ({key})"),
        )
    }

    /// A 413 for what the body holds rather than its size (audio longer than allowed).
    pub fn content_too_large(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            code,
            message,
        )
    }

    pub fn body_timeout(after: Duration) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "invalid_request_error",
            "body_timeout",
            format!(
                "the request body did not arrive within {} s (proxy.body_timeout_secs)",
                after.as_secs()
            ),
        )
    }

    pub fn too_large_settings(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            "request_too_large",
            format!("a settings object is at most {limit} bytes"),
        )
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "invalid_api_key",
            "missing or incorrect API key: send Authorization: Bearer <proxy.api_key>",
        )
    }

    pub fn unauthorized_control() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "invalid_token",
            "missing or wrong control token: send Authorization: Bearer <the token in the data folder's control-token file>",
        )
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "invalid_request_error",
            code,
            message,
        )
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "invalid_request_error", code, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "not_found",
            message,
        )
    }

    pub fn not_ready(reason: NotReady) -> Self {
        Self {
            detail: Some(Box::new(Detail {
                stage: reason.stage,
                hint: reason.hint,
            })),
            retry_after: Some(reason.retry_after),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                "engine_not_ready",
                reason.message,
            )
        }
    }

    pub fn busy(max_queue: u32) -> Self {
        Self {
            retry_after: Some(Duration::from_secs(1)),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                "engine_busy",
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
                "server_error",
                "engine_unreachable",
                format!("the engine could not be reached: {detail}"),
            )
        }
    }

    pub fn bad_gateway(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, "server_error", code, message)
    }

    /// A speech request got no audio for `waited`: the engine is stuck and being restarted.
    pub fn hung(waited: Duration) -> Self {
        Self {
            retry_after: Some(Duration::from_secs(5)),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                "engine_stuck",
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
            "server_error",
            "engine_timeout",
            format!(
                "the engine did not answer within {} s (proxy.upstream_timeout_secs)",
                after.as_secs()
            ),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Inner {
                message: &self.message,
                kind: self.kind,
                param: self.param,
                code: self.code,
                stage: self.detail.as_ref().and_then(|d| d.stage.as_deref()),
                hint: self.detail.as_ref().and_then(|d| d.hint.as_deref()),
            },
        };
        let mut response = (self.status, Json(body)).into_response();
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
