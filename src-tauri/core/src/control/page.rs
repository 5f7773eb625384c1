//! The status & settings page (`ui/`), compiled in so `murmurd` serves it from anywhere. No
//! token is needed to load it; it asks for one (or takes it from `#token=…`) before it shows
//! anything.

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::header;

/// Same-origin only; inline code and foreign resources are refused.
const CSP: &str = "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; \
                   connect-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'";

const JS: &str = "text/javascript; charset=utf-8";

/// The page's files: name under `/murmur/`, content type, content.
pub(super) const ASSETS: [(&str, &str, &str); 13] = [
    (
        "",
        "text/html; charset=utf-8",
        include_str!("../../../../ui/index.html"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../../../ui/style.css"),
    ),
    ("app.js", JS, include_str!("../../../../ui/app.js")),
    ("api.js", JS, include_str!("../../../../ui/api.js")),
    ("voices.js", JS, include_str!("../../../../ui/voices.js")),
    ("speak.js", JS, include_str!("../../../../ui/speak.js")),
    (
        "activity.js",
        JS,
        include_str!("../../../../ui/activity.js"),
    ),
    ("connect.js", JS, include_str!("../../../../ui/connect.js")),
    ("listen.js", JS, include_str!("../../../../ui/listen.js")),
    ("live.js", JS, include_str!("../../../../ui/live.js")),
    ("desk.js", JS, include_str!("../../../../ui/desk.js")),
    ("models.js", JS, include_str!("../../../../ui/models.js")),
    (
        "settings.js",
        JS,
        include_str!("../../../../ui/settings.js"),
    ),
];

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

/// A route for each of the page's files.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    ASSETS
        .iter()
        .fold(Router::new(), |router, &(name, content_type, body)| {
            router.route(
                &format!("/murmur/{name}"),
                get(move || async move { file(body, content_type) }),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every module the page imports is served (a missing one is a blank page).
    #[test]
    fn every_imported_module_is_served() {
        for &(name, _, body) in &ASSETS {
            for line in body
                .lines()
                .filter(|l| l.trim_start().starts_with("import "))
            {
                // Only the page's own modules (a snippet of example code may say `import`).
                let Some(module) = line.split('"').nth(1).and_then(|m| m.strip_prefix("./")) else {
                    continue;
                };
                assert!(
                    ASSETS.iter().any(|(served, ..)| *served == module),
                    "{name} imports {module}, which is not served"
                );
            }
        }
        let ui = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui");
        for entry in std::fs::read_dir(ui).expect("ui/") {
            let name = entry.expect("entry").file_name();
            let name = name.to_string_lossy();
            assert!(
                name == "index.html" || ASSETS.iter().any(|(served, ..)| *served == name),
                "ui/{name} is not served by murmurd"
            );
        }
    }
}
