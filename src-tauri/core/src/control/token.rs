//! The control token: 256 random bits in `<data-dir>/control-token`, readable only by the
//! user (mode 0600). Whoever can read that file can drive Murmur; a web page cannot.

use std::io::Write;
use std::path::Path;

/// Read the token, creating it on first start. Two Murmurs starting at once agree on one
/// token: each writes its own temporary file, and only the first to link it in wins.
pub fn load_or_create(data_dir: &Path) -> std::io::Result<String> {
    let path = data_dir.join("control-token");
    if let Some(token) = read(&path) {
        return Ok(token);
    }
    fs_err::create_dir_all(data_dir)?;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| std::io::Error::other(format!("no randomness: {e}")))?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    // tempfile creates it 0600 on unix.
    let mut file = tempfile::Builder::new()
        .prefix(".control-token.")
        .tempfile_in(data_dir)?;
    file.write_all(token.as_bytes())?;
    file.as_file().sync_all()?;
    match file.persist_noclobber(&path) {
        Ok(_) => Ok(token),
        // Another Murmur was first: use its token (a short or broken file is replaced).
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => match read(&path) {
            Some(theirs) => Ok(theirs),
            None => {
                e.file.persist(&path).map_err(|e| e.error)?;
                Ok(token)
            }
        },
        Err(e) => Err(e.error),
    }
}

/// The token in `path`, if it holds one; a file others can read is made private first.
fn read(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let token = text.trim();
    if token.len() < 32 {
        return None;
    }
    make_private(path);
    Some(token.to_string())
}

#[cfg(unix)]
fn make_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        tracing::warn!(
            path = %path.display(),
            "the control token was readable by others (mode {mode:o}); it is now 0600"
        );
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
}

#[cfg(not(unix))]
fn make_private(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_at_once_agree_on_one_token() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().to_path_buf();
        let tokens: Vec<String> = (0..8)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || load_or_create(&path).expect("token"))
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .collect();
        assert!(tokens.iter().all(|t| t == &tokens[0]), "{tokens:?}");
    }

    #[test]
    fn created_once_private_and_stable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = load_or_create(dir.path()).expect("created");
        assert_eq!(first.len(), 64);
        assert_eq!(load_or_create(dir.path()).expect("read"), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("control-token"))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let path = dir.path().join("control-token");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
            assert_eq!(load_or_create(dir.path()).expect("read"), first);
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "a readable token is made private");
        }
        let entries = std::fs::read_dir(dir.path()).expect("dir").count();
        assert_eq!(entries, 1, "no temporary file is left behind");
    }
}
