//! The Hugging Face Hub's file listing (`GET /api/models/{repo}/tree/{revision}[/{folder}]`),
//! as Kokoro's voices and Whisper's models read it: each file's path, size, and the digest the
//! Hub gives for it — the LFS object id (a sha256) for large files, the git blob id for small
//! ones kept in git.

use serde::Deserialize;

use super::fetch::Digest;

/// One entry of a listing.
#[derive(Debug, Clone, Deserialize)]
pub struct TreeEntry {
    /// `file` or `directory`.
    #[serde(rename = "type")]
    pub kind: String,
    pub path: String,
    pub size: u64,
    /// The git blob id.
    #[serde(default)]
    pub oid: String,
    pub lfs: Option<Lfs>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Lfs {
    /// The sha256 of the file.
    pub oid: String,
}

impl TreeEntry {
    pub fn is_file(&self) -> bool {
        self.kind == "file"
    }

    /// What the downloaded file must hash to.
    pub fn digest(&self) -> Digest {
        match &self.lfs {
            Some(lfs) => Digest::Sha256(lfs.oid.clone()),
            None => Digest::GitBlob(self.oid.clone()),
        }
    }
}

/// A listing that is not the Hub's.
#[derive(Debug, thiserror::Error)]
#[error("not the Hub's file listing: {0}")]
pub struct NotAListing(#[from] serde_json::Error);

/// Parse a listing.
pub fn parse_tree(listing: &[u8]) -> Result<Vec<TreeEntry>, NotAListing> {
    Ok(serde_json::from_slice(listing)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_files_are_pinned_by_sha256_and_small_ones_by_blob_id() {
        let listing = serde_json::json!([
            {"type": "file", "path": "model.bin", "size": 9, "oid": "b1",
             "lfs": {"oid": "ab".repeat(32), "size": 9, "pointerSize": 134}},
            {"type": "file", "path": "config.json", "size": 2, "oid": "c0ffee"},
            {"type": "directory", "path": "sub", "size": 0, "oid": "d1"},
        ]);
        let tree = parse_tree(listing.to_string().as_bytes()).expect("parsed");
        assert_eq!(tree[0].digest(), Digest::Sha256("ab".repeat(32)));
        assert_eq!(tree[1].digest(), Digest::GitBlob("c0ffee".into()));
        assert!(tree[1].is_file() && !tree[2].is_file());
        assert!(parse_tree(b"<html>").is_err());
    }
}
