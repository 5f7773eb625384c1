//! The ranges and lengths settings must keep: every number a user can set, with its range,
//! in one table ([`numbers`]), and length limits for strings and lists. [`super::check`]
//! applies them; the README's table of settings gives the same ranges.

use std::ops::RangeInclusive;

use super::Settings;
use super::validate::{FieldError, fail};

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
            "proxy.first_audio_timeout_secs",
            proxy.first_audio_timeout_secs,
            0..=DAY,
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
            "transcription.idle_unload_secs",
            settings.transcription.idle_unload_secs,
            0..=DAY,
            " s",
        ),
        (
            "transcription.max_upload_mb",
            settings.transcription.max_upload_mb,
            1..=1024,
            " MB",
        ),
        (
            "transcription.max_audio_secs",
            settings.transcription.max_audio_secs,
            1..=DAY,
            " s",
        ),
        (
            "transcription.max_live_sessions",
            settings.transcription.max_live_sessions,
            1..=1024,
            "",
        ),
        (
            "transcription.live_idle_secs",
            settings.transcription.live_idle_secs,
            1..=HOUR,
            " s",
        ),
        (
            "transcription.max_live_session_secs",
            settings.transcription.max_live_session_secs,
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

pub(super) fn check_numbers(settings: &Settings, table: &str, errors: &mut Vec<FieldError>) {
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
pub(super) fn check_lengths(settings: &Settings, errors: &mut Vec<FieldError>) {
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
    let transcription = &settings.transcription;
    text("transcription.model", transcription.model.as_deref(), PATH);
    text("transcription.url", transcription.url.as_deref(), URL);
    text(
        "transcription.probe_path",
        Some(&transcription.probe_path),
        URL,
    );
    text(
        "transcription.custom.probe_path",
        Some(&transcription.custom.probe_path),
        URL,
    );
    text("engine.probe_path", Some(&engine.probe_path), URL);
    text(
        "engine.custom.probe_path",
        Some(&engine.custom.probe_path),
        URL,
    );
    text("runtime.pypi_url", Some(&runtime.pypi_url), URL);
    text(
        "runtime.huggingface_url",
        Some(&runtime.huggingface_url),
        URL,
    );
    text(
        "runtime.spacy_models_url",
        Some(&runtime.spacy_models_url),
        URL,
    );
    text(
        "runtime.kokoro_models_url",
        Some(&runtime.kokoro_models_url),
        URL,
    );
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::check;

    fn keys(settings: &Settings) -> Vec<String> {
        check(settings).into_iter().map(|e| e.key).collect()
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
}
