//! Transcription engines other than Murmur's own Whisper server, asked OpenAI's way (a 16 kHz
//! WAV to `/v1/audio/transcriptions`, `verbose_json` back): an `external` server Murmur only
//! forwards to, and a `custom` one it launches and supervises. The server on the other end is
//! a real OpenAI-compatible transcription server — a second `murmurd` transcribing with the
//! real faster-whisper and `tiny.en` — so every byte Murmur sends it is read by real code.
//! Also here: the model catalog API and `/v1/models` naming the transcription model.

use std::time::Duration;

use murmur_core::status::State;
use murmur_tests::listening::{PARAGRAPH, Stage, speak, transcribe, wer};
use murmur_tests::murmurd::{Launch, binary};
use murmur_tests::supervised::transcription_of;
use murmur_tests::tools::prometheus;
use murmur_tests::{Client, Murmurd};
use serde_json::Value;

/// A front Murmur whose speech engine never starts and whose transcription is `section`.
fn front(section: &str) -> Murmurd {
    Murmurd::start(&format!(
        "[supervisor]\nauto_start = false\n\n[transcription]\n{section}\n"
    ))
}

fn check_transcript(reply: &murmur_tests::Reply, what: &str) -> Value {
    assert_eq!(
        reply.status,
        200,
        "{what}: {}",
        String::from_utf8_lossy(&reply.body)
    );
    let body = reply.json();
    let text = body["text"].as_str().expect("text");
    let rate = wer(PARAGRAPH, text);
    eprintln!("{what}: WER {:.1} %: {text}", rate * 100.0);
    assert!(rate <= 0.15, "{what}: WER {rate:.2}: {text}");
    body
}

#[tokio::test]
async fn an_external_server_is_sent_wav_and_read_as_verbose_json() {
    let stage = Stage::new().await;
    let back = stage.murmurd("").await;
    let mp3 = speak(&back, PARAGRAPH, "mp3").await;
    let front = front(&format!(
        "engine = \"external\"\nurl = \"{}\"\nmodel = \"tiny.en\"",
        back.base
    ));

    let reply = transcribe(
        &front,
        "/v1/audio/transcriptions",
        &[
            ("model", "whisper-1"),
            ("response_format", "verbose_json"),
            ("timestamp_granularities[]", "word"),
        ],
        "memo.mp3",
        &mp3,
    )
    .await;
    let verbose = check_transcript(&reply, "external, verbose_json");
    // The language came back as a code from the server's "english" and is written as
    // OpenAI writes it; segments and words survived the trip, in order and within the audio.
    assert_eq!(verbose["language"], "english");
    assert_eq!(reply.header("x-murmur-language"), Some("en"));
    let duration = verbose["duration"].as_f64().expect("duration");
    let segments = verbose["segments"].as_array().expect("segments");
    assert!(segments.len() >= 2, "{verbose:#}");
    let words = verbose["words"].as_array().expect("words");
    assert!(words.len() >= 30, "{} words", words.len());
    let mut last = 0.0;
    for word in words {
        let (start, end) = (
            word["start"].as_f64().expect("start"),
            word["end"].as_f64().expect("end"),
        );
        assert!(
            start >= last - 1e-6 && end >= start && end <= duration + 1e-6,
            "{word}"
        );
        last = start;
    }

    // Translation goes to the server's translation route. tiny.en is English-only: a
    // translation of English speech with it is the English transcript (as faster-whisper and
    // the servers on it answer), not a refusal.
    let reply = transcribe(
        &front,
        "/v1/audio/translations",
        &[("model", "whisper-1")],
        "memo.mp3",
        &mp3,
    )
    .await;
    check_transcript(&reply, "external, translated by an English-only model");

    let status = front.engine().await;
    let listening = transcription_of(&status);
    assert_eq!(listening.engine.id, "external", "{listening:#?}");
    assert_eq!(listening.state, State::Ready);
    let stop = front
        .control_post("/murmur/api/engines/transcription/stop")
        .await;
    assert_eq!(stop.status, 409, "Murmur does not run an external server");
    assert!(
        stop.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("external")
    );
    // The same through the route from before engines were a collection (kept one release).
    let alias = front.control_post("/murmur/api/transcription/stop").await;
    assert_eq!(alias.status, 409);
    assert_eq!(alias.json()["error"], stop.json()["error"]);

    // The back end lists its transcription model beside its speech models.
    let models = Client::new().get(&back.url("/v1/models")).await.json();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert!(ids.contains(&"tiny.en"), "{ids:?}");
    assert!(ids.len() >= 2, "speech models too: {ids:?}");

    // The catalog: tiny.en installed (its size measured on disk), base not, every model's
    // languages (English-only ones just en).
    let catalog = back
        .control(
            http::Method::GET,
            "/murmur/api/transcription-models",
            None,
            None,
        )
        .await;
    assert_eq!(catalog.status, 200);
    let catalog = catalog.json();
    assert_eq!(catalog["engine"], "whisper");
    assert_eq!(catalog["model"], "tiny.en");
    let model = |name: &str| -> Value {
        catalog["models"]
            .as_array()
            .expect("models")
            .iter()
            .find(|m| m["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} in {catalog:#}"))
    };
    let tiny = model("tiny.en");
    assert_eq!(
        (&tiny["installed"], &tiny["configured"]),
        (&Value::Bool(true), &Value::Bool(true))
    );
    let on_disk = tiny["size_bytes"].as_u64().expect("size");
    assert!(
        (75_000_000..80_000_000).contains(&on_disk),
        "tiny.en is 75.5 MB: {on_disk}"
    );
    assert_eq!(tiny["languages"], serde_json::json!(["en"]));
    let base = model("base");
    assert_eq!(base["installed"], false);
    let languages = base["languages"].as_array().expect("languages");
    assert!(languages.len() >= 99 && languages.contains(&Value::from("ja")));
    assert_eq!(model("large-v3-turbo")["english_only"], false);
}

#[tokio::test]
async fn a_custom_server_is_launched_supervised_and_stopped_with_its_children() {
    let stage = Stage::new().await;
    // The custom server: a murmurd of its own, listening with tiny.en, speech never started.
    let back_data = tempfile::tempdir().expect("tmp");
    let back_config = back_data.path().join("config.toml");
    std::fs::write(
        &back_config,
        stage.config("[supervisor]\nauto_start = false\n"),
    )
    .expect("write");
    // Piper speaks the paragraph from another murmurd.
    let speaker = stage.murmurd("").await;
    let ogg = speak(&speaker, PARAGRAPH, "opus").await;
    drop(speaker);

    let command = serde_json::json!([
        binary(),
        "--port",
        "{port}",
        "--config",
        back_config,
        "--data-dir",
        back_data.path().join("data"),
    ]);
    let front = Murmurd::launch(Launch::with_config(&format!(
        "[supervisor]\nauto_start = false\n\n[transcription]\nengine = \"custom\"\nmodel = \"tiny.en\"\n\n[transcription.custom]\ncommand = {command}\nprobe_path = \"/murmur/healthz\"\n"
    )))
    .expect("starts");
    assert_eq!(
        transcription_of(&front.engine().await).state,
        State::Stopped
    );

    let reply = transcribe(
        &front,
        "/v1/audio/transcriptions",
        &[("model", "whisper-1")],
        "voice-note.ogg",
        &ogg,
    )
    .await;
    check_transcript(&reply, "custom, ogg opus");
    let status = front.engine().await;
    let listening = transcription_of(&status);
    assert_eq!(listening.state, State::Ready, "{listening:#?}");
    assert_eq!(listening.engine.id, "custom");
    let pid = listening.engine.pid.expect("pid");
    assert!(murmur_tests::murmurd::alive(pid));
    let log = std::fs::read_to_string(front.data_dir().join("logs/transcription.log"))
        .expect("the transcription engine's own log");
    assert!(log.contains("--config"), "{log}");

    // Stopping it through the control API ends the server and the engine it ran.
    let record: Value = serde_json::from_str(
        &std::fs::read_to_string(back_data.path().join("data/transcription.pid"))
            .expect("the custom server runs its own Whisper engine"),
    )
    .expect("a pid record");
    let grandchild = record["pid"].as_u64().expect("pid") as u32;
    assert!(murmur_tests::murmurd::alive(grandchild));
    let stopped = front
        .control_post("/murmur/api/engines/transcription/stop")
        .await;
    assert_eq!(stopped.status, 200);
    let stopped: murmur_core::status::Status =
        serde_json::from_value(stopped.json()).expect("a status");
    assert_eq!(transcription_of(&stopped).state, State::Stopped);
    assert!(
        murmur_tests::murmurd::wait_gone(pid, Duration::from_secs(15)),
        "the custom server outlived its stop"
    );
    assert!(
        murmur_tests::murmurd::wait_gone(grandchild, Duration::from_secs(15)),
        "its Whisper engine outlived it"
    );

    // The next request starts it again.
    let reply = transcribe(
        &front,
        "/v1/audio/transcriptions",
        &[("response_format", "text")],
        "voice-note.ogg",
        &ogg,
    )
    .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert!(wer(PARAGRAPH, &String::from_utf8_lossy(&reply.body)) <= 0.15);

    // The metrics count transcriptions by their route and the transcription engine's restarts
    // beside speech's (read by the Prometheus client's own parser).
    let families = prometheus(&front).await;
    let family = |name: &str| -> Value {
        families
            .as_array()
            .expect("families")
            .iter()
            .find(|f| f["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} in {families:#}"))
    };
    let transcribed = family("murmur_requests")["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .find(|s| {
            s["name"] == "murmur_requests_total"
                && s["labels"]["route"] == "/v1/audio/transcriptions"
                && s["labels"]["status"] == "200"
        })
        .and_then(|s| s["value"].as_f64());
    assert_eq!(transcribed, Some(2.0), "{:#}", family("murmur_requests"));
    assert_eq!(
        family("murmur_transcription_engine_restarts")["type"],
        "counter"
    );
    assert_eq!(
        family("murmur_transcription_engine_crashes")["type"],
        "gauge"
    );
}
