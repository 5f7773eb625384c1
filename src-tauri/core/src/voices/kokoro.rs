//! Kokoro's voices: one style file each (`voices/<id>.bin`, 510×256 float32) in the Hub
//! repository `onnx-community/Kokoro-82M-v1.0-ONNX`, the same voices (and ids) as the MLX
//! engine's Kokoro. The index is the Hub's listing of that folder, which gives every file's
//! size and sha256 (its LFS object id); the grades are hexgrad's, from Kokoro's VOICES.md.

use super::{CatalogVoice, Remote};
use crate::runtime::fetch::Digest;

pub const REPO: &str = "onnx-community/Kokoro-82M-v1.0-ONNX";

/// Every voice of Kokoro v1.0 with its grade (A best … F), as its authors graded them.
pub const VOICES: [(&str, &str); 54] = [
    ("af_heart", "A"),
    ("af_alloy", "C"),
    ("af_aoede", "C+"),
    ("af_bella", "A-"),
    ("af_jessica", "D"),
    ("af_kore", "C+"),
    ("af_nicole", "B-"),
    ("af_nova", "C"),
    ("af_river", "D"),
    ("af_sarah", "C+"),
    ("af_sky", "C-"),
    ("am_adam", "F+"),
    ("am_echo", "D"),
    ("am_eric", "D"),
    ("am_fenrir", "C+"),
    ("am_liam", "D"),
    ("am_michael", "C+"),
    ("am_onyx", "D"),
    ("am_puck", "C+"),
    ("am_santa", "D-"),
    ("bf_alice", "D"),
    ("bf_emma", "B-"),
    ("bf_isabella", "C"),
    ("bf_lily", "D"),
    ("bm_daniel", "D"),
    ("bm_fable", "C"),
    ("bm_george", "C"),
    ("bm_lewis", "D+"),
    ("jf_alpha", "C+"),
    ("jf_gongitsune", "C"),
    ("jf_nezumi", "C-"),
    ("jf_tebukuro", "C"),
    ("jm_kumo", "C-"),
    ("zf_xiaobei", "D"),
    ("zf_xiaoni", "D"),
    ("zf_xiaoxiao", "D"),
    ("zf_xiaoyi", "D"),
    ("zm_yunjian", "D"),
    ("zm_yunxi", "D"),
    ("zm_yunxia", "D"),
    ("zm_yunyang", "D"),
    ("ef_dora", "C"),
    ("em_alex", "C"),
    ("em_santa", "C"),
    ("ff_siwis", "B-"),
    ("hf_alpha", "C"),
    ("hf_beta", "C"),
    ("hm_omega", "C"),
    ("hm_psi", "C"),
    ("if_sara", "C"),
    ("im_nicola", "C"),
    ("pf_dora", "C"),
    ("pm_alex", "C"),
    ("pm_santa", "C"),
];

/// The index's URL: the Hub's listing of the repository's `voices/` folder.
pub fn index_url(hub: &str) -> String {
    format!(
        "{}/api/models/{REPO}/tree/main/voices",
        hub.trim_end_matches('/')
    )
}

/// The voices the index lists (only those with a sha256 can be installed), or, without an
/// index, every known voice with no size.
pub fn parse(
    hub: &str,
    index: Option<&[u8]>,
) -> Result<Vec<(CatalogVoice, Vec<Remote>)>, crate::runtime::hub::NotAListing> {
    let Some(index) = index else {
        return Ok(VOICES
            .iter()
            .map(|(id, _)| (entry(id, None), Vec::new()))
            .collect());
    };
    let listing = crate::runtime::hub::parse_tree(index)?;
    let mut out = Vec::new();
    for file in listing.into_iter().filter(|f| f.is_file()) {
        let Some(id) = file
            .path
            .strip_prefix("voices/")
            .and_then(|name| name.strip_suffix(".bin"))
        else {
            continue;
        };
        if crate::language::kokoro_language(id).is_none() || !is_plain(id) {
            continue;
        }
        let remote: Vec<Remote> = file
            .lfs
            .map(|lfs| Remote {
                url: format!(
                    "{}/{REPO}/resolve/main/{}",
                    hub.trim_end_matches('/'),
                    file.path
                ),
                file_name: format!("{id}.bin"),
                size: file.size,
                digest: Digest::Sha256(lfs.oid),
            })
            .into_iter()
            .collect();
        out.push((entry(id, Some(file.size)), remote));
    }
    Ok(out)
}

fn is_plain(id: &str) -> bool {
    id.bytes()
        .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
}

/// The catalog entry of Kokoro voice `id` (its language, gender and grade from the id).
pub fn entry(id: &str, size: Option<u64>) -> CatalogVoice {
    let mut chars = id.chars();
    let _ = chars.next();
    let gender = match chars.next() {
        Some('f') => Some("female"),
        Some('m') => Some("male"),
        _ => None,
    };
    let name = id.split_once('_').map_or(id, |(_, n)| n);
    let mut pretty = name.to_string();
    if let Some(first) = pretty.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    CatalogVoice {
        id: id.to_string(),
        voice: id.to_string(),
        name: pretty,
        language: crate::language::kokoro_language(id).map(String::from),
        gender: gender.map(String::from),
        quality: VOICES
            .iter()
            .find(|(v, _)| *v == id)
            .map(|(_, grade)| format!("grade {grade}")),
        size,
        installed: false,
        removable: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hub_listing_gives_sizes_and_pins() {
        let listing = serde_json::json!([
            {"type": "file", "path": "voices/jf_alpha.bin", "size": 522240, "oid": "x",
             "lfs": {"oid": "ab".repeat(32), "size": 522240, "pointerSize": 134}},
            {"type": "file", "path": "voices/README.md", "size": 10, "oid": "y"},
            {"type": "directory", "path": "voices/sub", "size": 0, "oid": "z"},
        ]);
        let voices = parse("http://hub/", Some(listing.to_string().as_bytes())).expect("parsed");
        assert_eq!(voices.len(), 1);
        let (entry, remote) = &voices[0];
        assert_eq!(
            (
                entry.id.as_str(),
                entry.name.as_str(),
                entry.language.as_deref()
            ),
            ("jf_alpha", "Alpha", Some("ja"))
        );
        assert_eq!(entry.gender.as_deref(), Some("female"));
        assert_eq!(entry.quality.as_deref(), Some("grade C+"));
        assert_eq!(
            remote[0].url,
            "http://hub/onnx-community/Kokoro-82M-v1.0-ONNX/resolve/main/voices/jf_alpha.bin"
        );
        assert_eq!(remote[0].digest, Digest::Sha256("ab".repeat(32)));
        assert!(parse("h", Some(b"<html>")).is_err());
        assert_eq!(parse("h", None).expect("table").len(), 54);
    }
}
