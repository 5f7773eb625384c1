//! `GET /murmur/openapi.json`: an OpenAPI 3.1 description of everything Murmur serves — the
//! OpenAI routes and the control API — for users and for property-based testing. A test keeps
//! it in step with the router: a route added to one and not the other fails it.

use axum::response::{IntoResponse, Response};
use http::header;

pub const DOCUMENT: &str = include_str!("openapi.json");

pub async fn document() -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        DOCUMENT,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::DOCUMENT;

    /// `(path, method)` for every route the routers declare: the proxy's and the live
    /// sessions' from their tables, the control API's read from its source.
    fn routes_in_code() -> BTreeSet<(String, String)> {
        let mut routes: BTreeSet<(String, String)> = crate::proxy::routes()
            .map(|(path, method)| (path.to_string(), method.as_str().to_lowercase()))
            .chain(
                crate::live::PATHS
                    .iter()
                    .map(|path| (path.to_string(), "get".to_string())),
            )
            .collect();
        let source = include_str!("http/mod.rs");
        for piece in source.split(".route(").skip(1) {
            let Some(path) = piece.split('"').nth(1) else {
                continue;
            };
            // Murmur's catch-alls and the page's assets are not API.
            if path == "/murmur"
                || path.contains('*')
                || path.ends_with(".js")
                || path.ends_with(".css")
            {
                continue;
            }
            let handlers = piece.split(".route(").next().unwrap_or_default();
            let handlers = &handlers[..handlers.find(".route").unwrap_or(handlers.len())];
            let handlers = handlers.split("\n        .").next().unwrap_or(handlers);
            for method in ["get", "post", "put", "delete"] {
                let call = format!("{method}(");
                if handlers.contains(&call) {
                    routes.insert((path.to_string(), method.to_string()));
                }
            }
        }
        // The page itself, from the table of the page's files (the rest are its assets).
        for (name, ..) in super::super::page::ASSETS {
            if name.is_empty() {
                routes.insert(("/murmur/".to_string(), "get".to_string()));
            }
        }
        routes
    }

    fn routes_in_document() -> BTreeSet<(String, String)> {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).expect("valid JSON");
        assert_eq!(doc["openapi"], "3.1.0");
        let mut routes = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                routes.insert((path.clone(), method.clone()));
            }
        }
        routes
    }

    #[test]
    fn the_document_describes_exactly_the_routes_served() {
        let code = routes_in_code();
        let document = routes_in_document();
        assert!(code.len() >= 20, "{code:?}");
        let missing: Vec<_> = code.difference(&document).collect();
        let extra: Vec<_> = document.difference(&code).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "routes without a description: {missing:?}; described but not served: {extra:?}"
        );
    }
}
