use super::*;

#[test]
fn ga_update_sets_what_it_names_and_keeps_the_rest() {
    let mut config = SessionConfig::new(Some("gpt-realtime-whisper".into()));
    config
        .update_ga(&json!({
            "type": "transcription",
            "audio": {"input": {
                "format": {"type": "audio/pcmu"},
                "transcription": {"model": "gpt-4o-transcribe", "language": "en", "prompt": "Murmur"},
                "turn_detection": {"type": "server_vad", "silence_duration_ms": 700},
            }},
        }))
        .expect("valid");
    assert_eq!(config.format, Format::Pcmu);
    assert_eq!(config.model, "gpt-4o-transcribe");
    assert_eq!(config.language.as_deref(), Some("en"));
    assert_eq!(config.prompt.as_deref(), Some("Murmur"));
    let turn = config.turn_detection.clone().expect("vad");
    assert_eq!(
        (turn.silence_duration_ms, turn.prefix_padding_ms),
        (700, 300)
    );
    config
        .update_ga(&json!({"audio": {"input": {"turn_detection": null}}}))
        .expect("valid");
    assert_eq!(config.turn_detection, None);
    assert_eq!(
        config.format,
        Format::Pcmu,
        "unnamed fields keep their values"
    );
}

#[test]
fn beta_update_and_semantic_vad() {
    let mut config = SessionConfig::new(None);
    config
        .update_beta(&json!({
            "input_audio_format": "g711_alaw",
            "input_audio_transcription": {"model": "whisper-1"},
            "turn_detection": {"type": "semantic_vad", "eagerness": "low"},
        }))
        .expect("valid");
    assert_eq!(config.format, Format::Pcma);
    let turn = config.turn_detection.clone().expect("vad");
    assert_eq!(
        (turn.kind, turn.silence_duration_ms),
        ("semantic_vad", 1_500)
    );
    let described = config.describe_beta("sess_1");
    assert_eq!(described["input_audio_format"], "g711_alaw");
    assert_eq!(described["turn_detection"]["eagerness"], "low");
}

#[test]
fn what_cannot_be_served_names_its_field() {
    let mut config = SessionConfig::new(None);
    let cases = [
        (json!({"type": "realtime"}), "session.type"),
        (
            json!({"audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}}}),
            "session.audio.input.format",
        ),
        (
            json!({"audio": {"input": {"turn_detection": {"threshold": 3}}}}),
            "session.audio.input.turn_detection.threshold",
        ),
        (
            json!({"audio": {"input": {"transcription": {"language": "klingon"}}}}),
            "session.audio.input.transcription.language",
        ),
    ];
    for (session, param) in cases {
        let before = config.clone();
        let error = config.update_ga(&session).expect_err("refused");
        assert_eq!(error.param, param, "{session}");
        assert_eq!(config, before, "a refused update changes nothing");
    }
}
