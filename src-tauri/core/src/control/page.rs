//! The status & settings page (`ui/`), compiled in so `murmurd` serves it from anywhere. No
//! token is needed to load it; it asks for one (or takes it from `#token=…`) before it shows
//! anything.

use axum::response::{IntoResponse, Response};
use http::header;

const INDEX: &str = include_str!("../../../../ui/index.html");
const APP: &str = include_str!("../../../../ui/app.js");
const API: &str = include_str!("../../../../ui/api.js");
const VOICES: &str = include_str!("../../../../ui/voices.js");
const STYLE: &str = include_str!("../../../../ui/style.css");

/// Same-origin only; inline code and foreign resources are refused.
const CSP: &str = "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; \
                   connect-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'";

fn file(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

pub async fn index() -> Response {
    file(INDEX, "text/html; charset=utf-8")
}

pub async fn app() -> Response {
    file(APP, "text/javascript; charset=utf-8")
}

pub async fn api() -> Response {
    file(API, "text/javascript; charset=utf-8")
}

pub async fn voices() -> Response {
    file(VOICES, "text/javascript; charset=utf-8")
}

pub async fn style() -> Response {
    file(STYLE, "text/css; charset=utf-8")
}
