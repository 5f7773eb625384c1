//! Checking and completing speech requests, and choosing the voice for a text's language.

use super::*;
use serde_json::Map;

fn defaults() -> Defaults {
    Defaults {
        model: Some("kokoro".into()),
        voice: Some("af_heart".into()),
        speed: 1.25,
        response_format: Format::Wav,
        lang_code: "auto".into(),
        language_voices: BTreeMap::new(),
        audio: EngineAudio::Encoded,
        stream: false,
        max_input_chars: 20,
        pinned_model: false,
        managed: true,
    }
}

/// A client's body, parsed and checked as the proxy does.
fn check_json(
    body: &[u8],
    defaults: &Defaults,
    voices: Option<&[Voice]>,
) -> Result<Checked, ApiError> {
    check(SpeechRequest::parse(body)?, defaults, voices)
}

fn checked(body: &str) -> Map<String, Value> {
    let out = check_json(body.as_bytes(), &defaults(), None).expect("valid request");
    serde_json::from_slice(&out.body).expect("json object")
}

#[test]
fn an_engine_of_raw_audio_is_asked_for_it_and_the_client_format_kept() {
    let mut defaults = defaults();
    defaults.audio = EngineAudio::Pcm { rate: 22050 };
    defaults.response_format = Format::Mp3;
    let out = check_json(
        br#"{"input":"hi","stream_format":"sse","instructions":"calm"}"#,
        &defaults,
        None,
    )
    .expect("valid");
    assert_eq!((out.format, out.sse), (Format::Mp3, true));
    let sent: Map<String, Value> = serde_json::from_slice(&out.body).expect("json");
    assert_eq!(sent["response_format"], "pcm");
    assert_eq!(sent["instructions"], "calm");
    assert!(!sent.contains_key("stream_format"), "{sent:?}");
    defaults.audio = EngineAudio::Wav;
    let out = check_json(
        br#"{"input":"hi","response_format":"opus"}"#,
        &defaults,
        None,
    )
    .expect("ok");
    assert_eq!((out.format, out.sse), (Format::Opus, false));
    let sent: Map<String, Value> = serde_json::from_slice(&out.body).expect("json");
    assert_eq!(sent["response_format"], "wav");
    assert!(
        !sent.contains_key("stream"),
        "only asked of engines that stream"
    );
}

#[test]
fn an_engine_that_streams_is_asked_to_whatever_the_client_said() {
    let mut defaults = defaults();
    defaults.stream = true;
    for body in [r#"{"input":"hi"}"#, r#"{"input":"hi","stream":false}"#] {
        let out = check_json(body.as_bytes(), &defaults, None).expect("valid");
        let sent: Map<String, Value> = serde_json::from_slice(&out.body).expect("json");
        assert_eq!(sent["stream"], true, "{body}");
    }
}

#[test]
fn whitespace_controls_pass_and_the_limit_counts_characters() {
    let out = checked("{\"input\":\"one\\ttwo\\nthree\\r\"}");
    assert_eq!(out["input"], "one\ttwo\nthree\r");
    // 20 characters of 3 bytes each: within a 20-character limit.
    checked(&format!(r#"{{"input":"{}"}}"#, "語".repeat(20)));
    let err = check_json(br#"{"input":"x\u0000"}"#, &defaults(), None).expect_err("NUL");
    assert_eq!(err.code, Code::InvalidCharacters);
}

#[test]
fn every_openai_voice_means_the_configured_one() {
    for voice in OPENAI_VOICES {
        let out = checked(&format!(r#"{{"input":"hi","voice":"{voice}"}}"#));
        assert_eq!(out["voice"], "af_heart", "{voice}");
    }
}

#[test]
fn missing_fields_are_filled_and_unknown_ones_kept() {
    let out = checked(r#"{"input":"Hello there.","extra":{"x":1}}"#);
    assert_eq!(out["model"], "kokoro");
    assert_eq!(out["voice"], "af_heart");
    assert_eq!(out["speed"], 1.25);
    assert_eq!(out["response_format"], "wav");
    assert_eq!(out["lang_code"], "a");
    assert_eq!(out["extra"]["x"], 1);
}

#[test]
fn openai_names_become_the_configured_ones_but_others_stay() {
    let out = checked(r#"{"input":"hi","model":"tts-1-hd","voice":"nova"}"#);
    assert_eq!(
        (out["model"].as_str(), out["voice"].as_str()),
        (Some("kokoro"), Some("af_heart"))
    );
    let out = checked(
        r#"{"input":"hi","model":"mine","voice":"bf_emma","speed":2,"response_format":"pcm","lang_code":"b"}"#,
    );
    assert_eq!(out["model"], "mine");
    assert_eq!(out["voice"], "bf_emma");
    assert_eq!(out["speed"].as_f64(), Some(2.0));
    assert_eq!(out["response_format"], "pcm");
    assert_eq!(out["lang_code"], "b");
}

#[test]
fn language_is_detected_from_the_text() {
    assert_eq!(checked(r#"{"input":"こんにちは、世界"}"#)["lang_code"], "j");
    assert_eq!(checked(r#"{"input":"カタカナ"}"#)["lang_code"], "j");
    assert_eq!(checked(r#"{"input":"你好"}"#)["lang_code"], "z");
    assert_eq!(checked(r#"{"input":"Bonjour"}"#)["lang_code"], "a");
    assert_eq!(
        checked(r#"{"input":"Hi","voice":"bf_emma"}"#)["lang_code"],
        "b",
        "a British voice reads English the British way"
    );
}

fn kokoro_voices() -> Vec<Voice> {
    ["af_heart", "bf_emma", "jf_alpha", "zf_xiaobei", "zm_yunxi"]
        .map(|id| Voice::new(id, id, None))
        .to_vec()
}

#[test]
fn a_text_in_another_language_gets_a_voice_that_speaks_it() {
    let voices = kokoro_voices();
    let route = |body: &str| {
        let out = check_json(body.as_bytes(), &defaults(), Some(&voices)).expect("valid");
        let sent: Map<String, Value> = serde_json::from_slice(&out.body).expect("json");
        (out.voice, sent["voice"].clone(), sent["lang_code"].clone())
    };
    let (voice, sent, lang) = route(r#"{"input":"你好"}"#);
    assert_eq!(voice.as_deref(), Some("zf_xiaobei"));
    assert_eq!((sent, lang), ("zf_xiaobei".into(), "z".into()));
    let (voice, _, lang) = route(r#"{"input":"こんにちは","voice":"alloy"}"#);
    assert_eq!((voice.as_deref(), lang), (Some("jf_alpha"), "j".into()));
    // English with one character stays with the configured voice.
    let (voice, ..) = route(r#"{"input":"Sign: 愛 is love"}"#);
    assert_eq!(voice.as_deref(), Some("af_heart"));
    // A voice the client named is theirs, whatever the text.
    let (voice, ..) = route(r#"{"input":"你好","voice":"af_heart"}"#);
    assert_eq!(voice.as_deref(), Some("af_heart"));
    // Only a voice left to Murmur asks for the engine's voices.
    let voice_language = |body: &str| {
        check_json(body.as_bytes(), &defaults(), None)
            .expect("valid")
            .voice_language
    };
    assert_eq!(
        voice_language(r#"{"input":"你好","voice":"af_heart"}"#),
        None
    );
    assert_eq!(
        voice_language(r#"{"input":"你好","voice":"nova"}"#),
        Some("zh")
    );
    assert_eq!(voice_language(r#"{"input":"Hello"}"#), None);
}

#[test]
fn the_voice_picked_for_a_language_wins_when_installed() {
    let voices = kokoro_voices();
    let mut defaults = defaults();
    defaults
        .language_voices
        .insert("zh".into(), "zm_yunxi".into());
    defaults
        .language_voices
        .insert("ja".into(), "jf_gone".into());
    let voice = |body: &str| {
        check_json(body.as_bytes(), &defaults, Some(&voices))
            .expect("valid")
            .voice
    };
    assert_eq!(voice(r#"{"input":"你好"}"#).as_deref(), Some("zm_yunxi"));
    // Not installed (any more): the first one that speaks it.
    assert_eq!(
        voice(r#"{"input":"こんにちは"}"#).as_deref(),
        Some("jf_alpha")
    );
    // The configured voice speaks English: the choice for Chinese does not touch it.
    assert_eq!(voice(r#"{"input":"Hello"}"#).as_deref(), Some("af_heart"));
}

#[test]
fn no_voice_for_the_language_is_a_400_that_says_so() {
    let piper = [Voice::new("joe", "Joe", Some("en_US"))];
    let mut defaults = defaults();
    defaults.voice = Some("joe".into());
    let err = check_json("{\"input\":\"你好\"}".as_bytes(), &defaults, Some(&piper))
        .expect_err("no Chinese voice");
    assert_eq!(err.status, http::StatusCode::BAD_REQUEST);
    assert_eq!(err.code, Code::NoVoiceForLanguage);
    assert!(err.message().contains("Chinese (zh)"), "{}", err.message());
    assert!(err.message().contains("joe (en-US)"), "{}", err.message());
    // English is fine.
    check_json(br#"{"input":"Hello"}"#, &defaults, Some(&piper)).expect("English");
}

#[test]
fn bad_requests_name_the_field() {
    let cases = [
        (r#"{"input":""}"#, Some("input")),
        (r#"{"input":"  "}"#, Some("input")),
        (r#"{"model":"tts-1"}"#, Some("input")),
        (r#"{"input":42}"#, Some("input")),
        (r#"{"input":"a","voice":7}"#, Some("voice")),
        (r#"{"input":"a","speed":9}"#, Some("speed")),
        (r#"{"input":"a","speed":"fast"}"#, Some("speed")),
        (
            r#"{"input":"a","response_format":"ogg"}"#,
            Some("response_format"),
        ),
        (
            r#"{"input":"a","stream_format":"chunks"}"#,
            Some("stream_format"),
        ),
        (r#"{"input":"a","instructions":5}"#, Some("instructions")),
        (r#"{"input":"hello\u0000world"}"#, Some("input")),
        (r#"{"input":"bell\u0007"}"#, Some("input")),
        (r#"{"input":"twenty-one characters"}"#, Some("input")),
        (r#"{"input":"... !?"}"#, Some("input")),
        (r#"["input"]"#, None),
        (r#"{"input":"a""#, None),
    ];
    for (body, param) in cases {
        let err = check_json(body.as_bytes(), &defaults(), None).expect_err(body);
        assert_eq!(err.status, http::StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(err.param, param, "{body}");
    }
}

#[test]
fn an_engine_that_loads_any_model_gets_only_the_configured_one() {
    let mut pinned = defaults();
    pinned.pinned_model = true;
    let other = check_json(
        br#"{"input":"hi","model":"mlx-community/Some-Other-Model"}"#,
        &pinned,
        None,
    )
    .expect_err("another model");
    assert_eq!(other.code, Code::ModelNotAvailable);
    assert!(other.message().contains("kokoro"), "{}", other.message());
    for body in [
        r#"{"input":"hi","model":"kokoro"}"#,
        r#"{"input":"hi","model":"tts-1"}"#,
        r#"{"input":"hi"}"#,
    ] {
        let out = check_json(body.as_bytes(), &pinned, None).expect(body);
        let out: Map<String, Value> = serde_json::from_slice(&out.body).expect("json");
        assert_eq!(out["model"], "kokoro", "{body}");
    }
}

#[test]
fn fields_naming_files_on_the_engine_s_machine_are_dropped() {
    let out = checked(
        r#"{"input":"/not a path","voice":"af_heart","ref_audio":"voice.wav","ref_text":"Hello there.",
            "cfg":"/etc/passwd","home":"~/.ssh/id_rsa","up":"a/../../b","url":"file:///etc/hosts","win":"C:\\x","temperature":0.7}"#,
    );
    assert_eq!(out["input"], "/not a path");
    for gone in ["ref_audio", "cfg", "home", "up", "url", "win"] {
        assert!(out.get(gone).is_none(), "{gone}: {out:?}");
    }
    assert_eq!(out["ref_text"], "Hello there.");
    assert_eq!(out["temperature"], 0.7);
    // An external server is the user's own: what they send it is theirs to send.
    let mut external = defaults();
    external.managed = false;
    let out = check_json(
        br#"{"input":"hi","ref_audio":"/srv/voices/me.wav"}"#,
        &external,
        None,
    )
    .expect("valid");
    let out: Map<String, Value> = serde_json::from_slice(&out.body).expect("json");
    assert_eq!(out["ref_audio"], "/srv/voices/me.wav");
}
