//! Rules a parsed [`Settings`] must meet. Every rule names its dotted key, so the same checks
//! serve the config file (with a line), the environment and, later, the settings API (which
//! reports every failing field at once).

use std::net::IpAddr;
use std::ops::RangeInclusive;

use super::{EngineId, Settings};

/// One failed rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub key: String,
    pub message: String,
}

fn fail(errors: &mut Vec<FieldError>, key: &str, message: impl Into<String>) {
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
    if !(0.25..=4.0).contains(&engine.speed) {
        fail(
            &mut errors,
            "engine.speed",
            format!("{} is outside 0.25 to 4.0", engine.speed),
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
    match (&engine.url, engine.id) {
        (Some(url), _) if !is_http_base(url) => fail(
            &mut errors,
            "engine.url",
            format!(
                "{url:?} is not an http:// URL with a host and port, like http://127.0.0.1:8000"
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
    check_lengths(settings, &mut errors);

    let pypi = &settings.runtime.pypi_url;
    if !(pypi.starts_with("https://") || pypi.starts_with("http://")) {
        fail(
            &mut errors,
            "runtime.pypi_url",
            format!("{pypi:?} is not an http(s) URL"),
        );
    }
    errors
}

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;
const HOUR: u64 = 3600;
const DAY: u64 = 24 * HOUR;

/// Every number a user can set, with its allowed range (inclusive) and unit. The README's
/// table of settings gives the same ranges.
pub fn numbers(settings: &Settings) -> Vec<(&'static str, u64, RangeInclusive<u64>, &'static str)> {
    let (proxy, sup) = (&settings.proxy, &settings.supervisor);
    vec![
        (
            "proxy.max_request_bytes",
            proxy.max_request_bytes,
            1..=64 * MIB,
            " bytes",
        ),
        (
            "proxy.max_response_bytes",
            proxy.max_response_bytes,
            KIB..=4 * GIB,
            " bytes",
        ),
        (
            "proxy.max_upload_bytes",
            proxy.max_upload_bytes,
            KIB..=GIB,
            " bytes",
        ),
        (
            "proxy.max_input_chars",
            proxy.max_input_chars,
            1..=1_000_000,
            " characters",
        ),
        (
            "proxy.upstream_timeout_secs",
            proxy.upstream_timeout_secs,
            1..=DAY,
            " s",
        ),
        (
            "proxy.max_concurrent_requests",
            u64::from(proxy.max_concurrent_requests),
            1..=64,
            "",
        ),
        (
            "proxy.max_queue",
            u64::from(proxy.max_queue),
            0..=10_000,
            "",
        ),
        (
            "proxy.max_connections",
            u64::from(proxy.max_connections),
            8..=100_000,
            "",
        ),
        (
            "proxy.header_timeout_secs",
            proxy.header_timeout_secs,
            1..=HOUR,
            " s",
        ),
        (
            "proxy.body_timeout_secs",
            proxy.body_timeout_secs,
            1..=HOUR,
            " s",
        ),
        (
            "proxy.shutdown_timeout_secs",
            proxy.shutdown_timeout_secs,
            0..=HOUR,
            " s",
        ),
        (
            "supervisor.max_restarts",
            u64::from(sup.max_restarts),
            0..=1000,
            "",
        ),
        (
            "supervisor.restart_delay_ms",
            sup.restart_delay_ms,
            0..=HOUR * 1000,
            " ms",
        ),
        (
            "supervisor.healthy_reset_secs",
            sup.healthy_reset_secs,
            1..=DAY,
            " s",
        ),
        (
            "supervisor.health_interval_secs",
            sup.health_interval_secs,
            1..=DAY,
            " s",
        ),
        (
            "supervisor.health_timeout_secs",
            sup.health_timeout_secs,
            1..=HOUR,
            " s",
        ),
        (
            "supervisor.health_failures_before_restart",
            u64::from(sup.health_failures_before_restart),
            1..=1000,
            "",
        ),
        (
            "supervisor.startup_timeout_secs",
            sup.startup_timeout_secs,
            1..=DAY,
            " s",
        ),
        (
            "supervisor.stop_grace_secs",
            sup.stop_grace_secs,
            0..=HOUR,
            " s",
        ),
        (
            "supervisor.idle_unload_secs",
            sup.idle_unload_secs,
            0..=30 * DAY,
            " s",
        ),
        (
            "engine.custom.sample_rate",
            u64::from(settings.engine.custom.sample_rate),
            8_000..=192_000,
            " Hz",
        ),
    ]
}

fn check_numbers(settings: &Settings, table: &str, errors: &mut Vec<FieldError>) {
    for (key, value, range, unit) in numbers(settings) {
        if key.starts_with(table) && !range.contains(&value) {
            fail(
                errors,
                key,
                format!(
                    "{value} is outside the allowed range {}{unit} to {}{unit}",
                    range.start(),
                    range.end()
                ),
            );
        }
    }
}

/// Strings and lists have lengths a person would write; anything longer is a mistake or an
/// attack, and would be saved into the file and sent along with every request.
fn check_lengths(settings: &Settings, errors: &mut Vec<FieldError>) {
    const NAME: usize = 256;
    const URL: usize = 2048;
    const PATH: usize = 4096;
    const ITEMS: usize = 256;
    let (proxy, engine, runtime) = (&settings.proxy, &settings.engine, &settings.runtime);
    let mut text = |key: &str, value: Option<&str>, max: usize| {
        if let Some(value) = value
            && value.chars().count() > max
        {
            fail(errors, key, format!("is longer than {max} characters"));
        }
    };
    text("proxy.host", Some(&proxy.host), NAME);
    text("proxy.api_key", proxy.api_key.as_deref(), 1024);
    text("engine.model", engine.model.as_deref(), NAME);
    text("engine.voice", engine.voice.as_deref(), NAME);
    text("engine.lang_code", Some(&engine.lang_code), 16);
    text("engine.url", engine.url.as_deref(), URL);
    text("engine.probe_path", Some(&engine.probe_path), URL);
    text(
        "engine.custom.probe_path",
        Some(&engine.custom.probe_path),
        URL,
    );
    text("runtime.pypi_url", Some(&runtime.pypi_url), URL);
    text(
        "runtime.python_install_mirror",
        runtime.python_install_mirror.as_deref(),
        URL,
    );
    text("runtime.python", runtime.python.as_deref(), PATH);
    for (key, path) in [
        ("engine.voices_dir", &engine.voices_dir),
        (
            "engine.custom.python_project",
            &engine.custom.python_project,
        ),
        ("engine.custom.cwd", &engine.custom.cwd),
        ("runtime.uv_path", &runtime.uv_path),
    ] {
        text(key, path.as_ref().and_then(|p| p.to_str()), PATH);
    }
    for arg in &engine.custom.command {
        text("engine.custom.command", Some(arg), PATH);
    }
    for host in &proxy.allowed_hosts {
        text("proxy.allowed_hosts", Some(host), NAME);
    }
    for origin in &proxy.allowed_origins {
        text("proxy.allowed_origins", Some(origin), URL);
    }
    for (name, value) in &engine.custom.env {
        text("engine.custom.env", Some(name), NAME);
        text("engine.custom.env", Some(value), PATH);
    }
    for (key, len) in [
        ("proxy.allowed_hosts", proxy.allowed_hosts.len()),
        ("proxy.allowed_origins", proxy.allowed_origins.len()),
        ("engine.custom.command", engine.custom.command.len()),
        ("engine.custom.env", engine.custom.env.len()),
    ] {
        if len > ITEMS {
            fail(errors, key, format!("has more than {ITEMS} entries"));
        }
    }
}

/// `localhost` or an IP address, with or without brackets.
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
        uri.scheme_str() == Some("http") && uri.host().is_some() && uri.query().is_none()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(settings: &Settings) -> Vec<String> {
        check(settings).into_iter().map(|e| e.key).collect()
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(keys(&Settings::default()), Vec::<String>::new());
    }

    #[test]
    fn a_public_bind_needs_an_api_key() {
        let mut s = Settings::default();
        s.proxy.host = "0.0.0.0".into();
        assert_eq!(keys(&s), ["proxy.host"]);
        s.proxy.api_key = Some("secret".into());
        assert_eq!(keys(&s), Vec::<String>::new());
    }

    #[test]
    fn every_bad_field_is_reported() {
        let mut s = Settings::default();
        s.proxy.allowed_origins = vec!["*".into()];
        s.engine.speed = 0.0;
        s.engine.id = EngineId::Custom;
        s.supervisor.health_interval_secs = 0;
        assert_eq!(
            keys(&s),
            [
                "proxy.allowed_origins",
                "engine.speed",
                "engine.custom.command",
                "supervisor.health_interval_secs",
            ]
        );
    }

    #[test]
    fn every_number_has_bounds_and_the_error_names_its_key() {
        let table = numbers(&Settings::default());
        let value = serde_json::to_value(Settings::default()).expect("json");
        for (key, _, range, _) in &table {
            // The largest value the file's type can hold, as a user might type it.
            let mut json = value.clone();
            let (table_key, field) = key.rsplit_once('.').expect("dotted");
            let mut at = &mut json;
            for part in table_key.split('.') {
                at = &mut at[part];
            }
            let max = if at[field].as_u64().is_some_and(|v| v <= u64::from(u32::MAX))
                && *range.end() <= u64::from(u32::MAX)
            {
                serde_json::json!(u32::MAX)
            } else {
                serde_json::json!(u64::MAX)
            };
            at[field] = max;
            let Ok(settings) = serde_json::from_value::<Settings>(json) else {
                continue; // a u32 field refuses u64::MAX when parsed: also an error with its key
            };
            assert_eq!(keys(&settings), [*key], "{key}");
        }
        assert!(table.len() >= 18, "{}", table.len());
    }

    #[test]
    fn long_strings_and_lists_are_refused() {
        let mut s = Settings::default();
        s.engine.lang_code = "x".repeat(2_000_000);
        s.engine.voice = Some("v".repeat(300));
        s.proxy.allowed_hosts = vec!["h".into(); 300];
        assert_eq!(
            keys(&s),
            ["engine.voice", "engine.lang_code", "proxy.allowed_hosts"]
        );
    }

    #[test]
    fn external_urls_must_be_plain_http() {
        let mut s = Settings::default();
        s.engine.id = EngineId::External;
        for bad in ["127.0.0.1:8000", "ftp://x", "http://"] {
            s.engine.url = Some(bad.into());
            assert_eq!(keys(&s), ["engine.url"], "{bad}");
        }
        s.engine.url = Some("http://127.0.0.1:8000".into());
        assert_eq!(keys(&s), Vec::<String>::new());
    }
}
