use super::openai::wav_header;
use super::*;
use crate::transcription::transcript::Segment;

#[test]
fn options_are_a_query_string_with_only_what_is_set() {
    let options = Options {
        task: Some(Task::Translate),
        prompt: Some("names: Ana & Bo".into()),
        words: true,
        ..Options::default()
    };
    assert_eq!(
        serde_urlencoded::to_string(&options).expect("encodes"),
        "task=translate&prompt=names%3A+Ana+%26+Bo&words=true"
    );
    assert_eq!(
        serde_urlencoded::to_string(Options::default()).expect("encodes"),
        ""
    );
}

#[test]
fn verbose_json_becomes_lines_with_words_in_their_segments_and_a_language_code() {
    let body = br#"{"task":"transcribe","language":"english","duration":4.0,"text":"Hello there. Bye.",
        "segments":[{"id":7,"start":0.0,"end":2.0,"text":" Hello there."},{"start":2.5,"end":3.5,"text":" Bye.","avg_logprob":-0.2}],
        "words":[{"word":"Hello","start":0.1,"end":0.5},{"word":"there.","start":0.6,"end":1.2},{"word":"Bye.","start":2.6,"end":3.0}]}"#;
    let lines = verbose_lines(body, &Options::default()).expect("reads");
    let EngineLine::Info {
        language, duration, ..
    } = &lines[0]
    else {
        panic!("{lines:?}")
    };
    assert_eq!((language.as_str(), *duration), ("en", 4.0));
    let segments: Vec<&Segment> = lines
        .iter()
        .filter_map(|l| match l {
            EngineLine::Segment(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(segments.len(), 2);
    assert_eq!((segments[0].id, segments[1].id), (0, 1));
    assert_eq!(segments[0].words.len(), 2);
    assert_eq!(segments[1].words[0].word, "Bye.");
    assert_eq!(segments[1].avg_logprob, -0.2);
    assert_eq!(lines.last(), Some(&EngineLine::Done));
}

#[test]
fn text_without_segments_is_one_segment_over_the_audio() {
    let body = br#"{"text":"Just text.","duration":2.5}"#;
    let options = Options {
        language: Some("de".into()),
        ..Options::default()
    };
    let lines = verbose_lines(body, &options).expect("reads");
    assert!(matches!(&lines[0], EngineLine::Info { language, .. } if language == "de"));
    assert!(matches!(&lines[1], EngineLine::Segment(s) if s.text == "Just text." && s.end == 2.5));
    assert!(verbose_lines(b"<html>", &options).is_err());
}

#[test]
fn scores_and_times_written_as_null_are_read_not_refused() {
    // pydantic writes an infinite log-probability as null (mlx_audio.server did, in CI).
    let body = br#"{"text":" Hi.","duration":1.5,"segments":[{"start":0.0,"end":null,"text":" Hi.",
        "avg_logprob":null,"no_speech_prob":null,"compression_ratio":null,"temperature":null,
        "words":[{"word":"Hi.","start":0.2,"end":null},{"word":"lost","start":null,"end":null}]}]}"#;
    let lines = verbose_lines(body, &Options::default()).expect("reads");
    let EngineLine::Segment(segment) = &lines[1] else {
        panic!("{lines:?}")
    };
    assert_eq!(
        (segment.start, segment.end, segment.avg_logprob),
        (0.0, 0.0, 0.0)
    );
    assert_eq!(segment.text, " Hi.");
    assert_eq!(segment.words.len(), 1, "{segment:?}");
    assert_eq!((segment.words[0].start, segment.words[0].end), (0.2, 0.2));
}

#[test]
fn the_wav_header_says_its_real_lengths() {
    let header = wav_header(32_000);
    assert_eq!(&header[..4], b"RIFF");
    assert_eq!(
        u32::from_le_bytes(header[4..8].try_into().expect("4 bytes")),
        32_036
    );
    assert_eq!(
        u32::from_le_bytes(header[24..28].try_into().expect("4 bytes")),
        RATE
    );
    assert_eq!(
        u32::from_le_bytes(header[40..44].try_into().expect("4 bytes")),
        32_000
    );
}
