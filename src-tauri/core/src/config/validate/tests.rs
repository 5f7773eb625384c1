#[test]
fn every_default_download_is_https() {
    let runtime = super::super::RuntimeSettings::default();
    for url in [
        &runtime.pypi_url,
        &runtime.huggingface_url,
        &runtime.spacy_models_url,
        &runtime.kokoro_models_url,
    ] {
        assert!(url.starts_with("https://"), "{url}");
    }
    assert_eq!(
        runtime.python_install_mirror, None,
        "uv's own (https) default"
    );
}

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
fn language_voices_are_keyed_by_language_code() {
    let mut s = Settings::default();
    s.engine
        .language_voices
        .insert("zh".into(), "zf_xiaobei".into());
    assert_eq!(keys(&s), Vec::<String>::new());
    s.engine
        .language_voices
        .insert("Chinese".into(), "zf_xiaobei".into());
    s.engine.language_voices.insert("ja".into(), " ".into());
    assert_eq!(
        keys(&s),
        [
            "engine.language_voices.Chinese",
            "engine.language_voices.ja"
        ]
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
