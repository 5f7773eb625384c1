//! Rules a parsed [`Settings`] must meet. Every rule names its dotted key, so the same checks
//! serve the config file (with a line), the environment and, later, the settings API (which
//! reports every failing field at once).

use std::net::IpAddr;

use super::bounds::{check_lengths, check_numbers};
use super::{EngineId, Settings};

/// One failed rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub key: String,
    pub message: String,
}

pub(super) fn fail(errors: &mut Vec<FieldError>, key: &str, message: impl Into<String>) {
    errors.push(FieldError {
        key: key.into(),
        message: message.into(),
    });
}

/// Every rule that `settings` breaks, in file order.
pub fn check(settings: &Settings) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let proxy = &settings.proxy;

    match parse_host(&proxy.host) {
        None => fail(
            &mut errors,
            "proxy.host",
            "expected an IP address such as 127.0.0.1 or ::1",
        ),
        Some(ip) if !ip.is_loopback() && proxy.api_key.is_none() => fail(
            &mut errors,
            "proxy.host",
            format!(
                "{ip} is reachable from other machines; set proxy.api_key to bind it, or use 127.0.0.1"
            ),
        ),
        Some(_) => {}
    }
    if proxy
        .api_key
        .as_deref()
        .is_some_and(|k| k.trim().is_empty())
    {
        fail(
            &mut errors,
            "proxy.api_key",
            "must not be empty; remove the key to turn authentication off",
        );
    }
    for origin in &proxy.allowed_origins {
        if !is_origin(origin) {
            fail(
                &mut errors,
                "proxy.allowed_origins",
                format!(
                    "{origin:?} is not an origin like http://localhost:3000 (scheme and host, no path, no *)"
                ),
            );
        }
    }
    for host in &proxy.allowed_hosts {
        if host.is_empty() || host.contains(['/', ' ', '*']) {
            fail(
                &mut errors,
                "proxy.allowed_hosts",
                format!("{host:?} is not a host name"),
            );
        }
    }
    check_numbers(settings, "proxy.", &mut errors);

    let engine = &settings.engine;
    if !super::SPEED.contains(&engine.speed) {
        fail(
            &mut errors,
            "engine.speed",
            format!("{} is outside {}", engine.speed, super::speed_range()),
        );
    }
    if engine.lang_code.trim().is_empty() {
        fail(
            &mut errors,
            "engine.lang_code",
            "use \"auto\" or a language code such as \"a\"",
        );
    }
    if engine.model.as_deref().is_some_and(|m| m.trim().is_empty()) {
        fail(
            &mut errors,
            "engine.model",
            "must not be empty; remove it to use the engine's default",
        );
    }
    if engine.voice.as_deref().is_some_and(|v| v.trim().is_empty()) {
        fail(
            &mut errors,
            "engine.voice",
            "must not be empty; remove it to use the engine's default",
        );
    }
    for (language, voice) in &engine.language_voices {
        let key = format!("engine.language_voices.{language}");
        let tag =
            (2..=3).contains(&language.len()) && language.chars().all(|c| c.is_ascii_lowercase());
        if !tag {
            fail(
                &mut errors,
                &key,
                "the key is a language's two- or three-letter code, such as zh or ja",
            );
        } else if voice.trim().is_empty() || voice.chars().count() > 128 {
            fail(
                &mut errors,
                &key,
                "name an installed voice, such as zf_xiaobei",
            );
        }
    }
    match (&engine.url, engine.id) {
        (Some(url), _) if !is_http_base(url) => fail(
            &mut errors,
            "engine.url",
            format!(
                "{url:?} is not an http:// or https:// URL with a host and port, like http://127.0.0.1:8000"
            ),
        ),
        (None, EngineId::External) => fail(
            &mut errors,
            "engine.url",
            "the external engine needs the server's URL, e.g. url = \"http://127.0.0.1:8000\"",
        ),
        _ => {}
    }
    if !engine.probe_path.starts_with('/') {
        fail(&mut errors, "engine.probe_path", "must start with /");
    }
    if engine.id == EngineId::Custom && engine.custom.command.is_empty() {
        fail(
            &mut errors,
            "engine.custom.command",
            "the custom engine needs a command, e.g. [\"my-server\", \"--port\", \"{port}\"]",
        );
    }
    if engine.custom.command.iter().any(|a| a.contains("{python}"))
        && engine.custom.python_project.is_none()
    {
        fail(
            &mut errors,
            "engine.custom.python_project",
            "the command uses {python}: set python_project to the folder with pyproject.toml and uv.lock",
        );
    }
    if !engine.custom.probe_path.starts_with('/') {
        fail(&mut errors, "engine.custom.probe_path", "must start with /");
    }

    check_numbers(settings, "engine.", &mut errors);
    check_numbers(settings, "supervisor.", &mut errors);
    check_numbers(settings, "transcription.", &mut errors);
    check_transcription(&settings.transcription, &mut errors);
    check_wyoming(&settings.wyoming, &mut errors);
    super::desk::check(&settings.dictation, &settings.read_aloud, &mut errors);
    check_lengths(settings, &mut errors);

    let runtime = &settings.runtime;
    for (key, url) in [
        ("runtime.pypi_url", &runtime.pypi_url),
        ("runtime.huggingface_url", &runtime.huggingface_url),
    ] {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            fail(&mut errors, key, format!("{url:?} is not an http(s) URL"));
        }
    }
    for (key, url) in [
        ("runtime.spacy_models_url", &runtime.spacy_models_url),
        ("runtime.kokoro_models_url", &runtime.kokoro_models_url),
    ] {
        if !(url.starts_with("https://")
            || url.starts_with("http://")
            || std::path::Path::new(url).is_absolute())
        {
            fail(
                &mut errors,
                key,
                format!("{url:?} is neither an http(s) URL nor an absolute folder"),
            );
        }
    }
    errors
}

/// `localhost` or an IP address, with or without brackets.
fn check_transcription(t: &super::TranscriptionSettings, errors: &mut Vec<FieldError>) {
    use super::TranscriptionEngineId;
    if t.model.as_deref().is_some_and(|m| m.trim().is_empty()) {
        fail(
            errors,
            "transcription.model",
            "name a model (tiny.en, base, small, large-v3-turbo, …), a Hub repository or a folder; remove the key for the engine's own",
        );
    }
    match (&t.url, t.engine) {
        (Some(url), _) if !is_http_base(url) => fail(
            errors,
            "transcription.url",
            format!(
                "{url:?} is not an http:// or https:// URL with a host and port, like http://127.0.0.1:8000"
            ),
        ),
        (None, TranscriptionEngineId::External) => fail(
            errors,
            "transcription.url",
            "the external engine needs the server's URL, e.g. url = \"http://127.0.0.1:8000\"",
        ),
        _ => {}
    }
    if !t.probe_path.starts_with('/') {
        fail(errors, "transcription.probe_path", "must start with /");
    }
    let custom = &t.custom;
    if t.engine == TranscriptionEngineId::Custom && custom.command.is_empty() {
        fail(
            errors,
            "transcription.custom.command",
            "the custom engine needs a command, e.g. [\"my-server\", \"--port\", \"{port}\"]",
        );
    }
    if custom.command.iter().any(|a| a.contains("{python}")) && custom.python_project.is_none() {
        fail(
            errors,
            "transcription.custom.python_project",
            "the command uses {python}: set python_project to the folder with pyproject.toml and uv.lock",
        );
    }
    if !custom.probe_path.starts_with('/') {
        fail(
            errors,
            "transcription.custom.probe_path",
            "must start with /",
        );
    }
    if let Some(language) = &t.language
        && !(2..=3).contains(&language.len())
    {
        fail(
            errors,
            "transcription.language",
            format!(
                "{language:?} is not a language code such as en, de or ja; leave it unset to detect"
            ),
        );
    }
}

fn check_wyoming(w: &super::WyomingSettings, errors: &mut Vec<FieldError>) {
    match parse_host(&w.host) {
        None => fail(
            errors,
            "wyoming.host",
            format!("{:?} is not an IP address (or localhost)", w.host),
        ),
        Some(ip) if !ip.is_loopback() && w.allowed_networks.is_empty() => fail(
            errors,
            "wyoming.allowed_networks",
            "Wyoming has no authentication: beyond loopback, list the client networks that may connect, e.g. [\"192.168.1.0/24\"]",
        ),
        Some(_) => {}
    }
    for network in &w.allowed_networks {
        if super::Network::parse(network).is_none() {
            fail(
                errors,
                "wyoming.allowed_networks",
                format!("{network:?} is not a network such as 192.168.1.0/24"),
            );
        }
    }
    if !(1..=1024).contains(&w.max_connections) {
        fail(errors, "wyoming.max_connections", "must be from 1 to 1024");
    }
}

pub(crate) fn parse_host(host: &str) -> Option<IpAddr> {
    if host.eq_ignore_ascii_case("localhost") {
        return Some(IpAddr::from([127, 0, 0, 1]));
    }
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

fn is_origin(origin: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    matches!(scheme, "http" | "https")
        && !rest.is_empty()
        && !rest.contains(['/', '*', ' ', '?', '#'])
}

fn is_http_base(url: &str) -> bool {
    url.parse::<http::Uri>().is_ok_and(|uri| {
        matches!(uri.scheme_str(), Some("http" | "https"))
            && uri.host().is_some()
            && uri.query().is_none()
    })
}

#[cfg(test)]
mod tests;
