//! Where Murmur keeps its files.
//!
//! By default the platform decides: XDG directories on Linux (`~/.config/murmur`,
//! `~/.local/share/murmur`, `~/.local/state/murmur/logs`), `~/Library/Application
//! Support/Murmur` and `~/Library/Logs/Murmur` on macOS. `--data-dir DIR` (or
//! `MURMUR_DATA_DIR`) overrides all of them: config, data and logs then live under `DIR`, which
//! is what tests and portable installs want.

use std::path::{Path, PathBuf};

use directories::{BaseDirs, ProjectDirs};

/// The resolved locations of Murmur's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// Runtimes, the control token, the pidfile.
    pub data_dir: PathBuf,
    /// The settings file (`config.toml`).
    pub config_file: PathBuf,
    /// Daily-rotated `murmurd.log` and the engine log.
    pub log_dir: PathBuf,
    /// The app bundle's resource folder (the bundled Python projects), when Murmur runs from
    /// one: the desktop shell knows it.
    pub resources: Option<PathBuf>,
}

impl Paths {
    /// Everything under one folder: `DIR/config.toml`, `DIR/logs`.
    pub fn under(data_dir: &Path) -> Self {
        Self {
            data_dir: data_dir.to_path_buf(),
            config_file: data_dir.join("config.toml"),
            log_dir: data_dir.join("logs"),
            resources: None,
        }
    }

    /// The platform's directories for Murmur, or `None` when the home folder is unknown.
    pub fn platform() -> Option<Self> {
        let dirs = ProjectDirs::from("dev", "Murmur", "Murmur")?;
        let log_dir = platform_log_dir(&dirs)?;
        Some(Self {
            data_dir: dirs.data_dir().to_path_buf(),
            config_file: dirs.config_dir().join("config.toml"),
            log_dir,
            resources: None,
        })
    }

    /// Resolve with the usual precedence: an explicit data dir wins, then the platform's.
    /// A config file given on its own replaces only the config file's location.
    pub fn resolve(data_dir: Option<&Path>, config_file: Option<&Path>) -> Option<Self> {
        let mut paths = match data_dir {
            Some(dir) => Self::under(dir),
            None => Self::platform()?,
        };
        if let Some(file) = config_file {
            paths.config_file = file.to_path_buf();
        }
        Some(paths)
    }

    /// Make the data folder Murmur's alone before anything in it is trusted (the control
    /// token, `bin/uv`, the runtimes): created `0700` if missing; tightened to `0700` if others
    /// could read or write it (the answer says so); refused if another user owns it.
    pub fn make_private(&self) -> Result<Option<String>, PrivateError> {
        private_dir(&self.data_dir)
    }

    /// True the first time it is asked for this data folder (the desktop app opens its window
    /// then); it leaves a marker so later launches start quietly in the tray.
    pub fn first_launch(&self) -> bool {
        let marker = self.data_dir.join(".launched");
        if marker.exists() {
            return false;
        }
        let _ = std::fs::create_dir_all(&self.data_dir);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&marker)
            .is_ok()
    }
}

/// Why the data folder cannot be Murmur's alone.
#[derive(Debug, thiserror::Error)]
pub enum PrivateError {
    #[error("cannot {what} the data folder {}: {source}", dir.display())]
    Io {
        what: &'static str,
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the data folder {} belongs to another user (uid {owner}, not {me}); Murmur keeps its \
         control token and the programs it runs there, so it will not use it: choose \
         another with --data-dir, or give the folder to this user",
        dir.display()
    )]
    NotYours { dir: PathBuf, owner: u32, me: u32 },
}

fn io(what: &'static str, dir: &Path) -> impl FnOnce(std::io::Error) -> PrivateError {
    let dir = dir.to_path_buf();
    move |source| PrivateError::Io { what, dir, source }
}

#[cfg(unix)]
fn private_dir(dir: &Path) -> Result<Option<String>, PrivateError> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io("create", dir))?;
    let meta = std::fs::metadata(dir).map_err(io("read", dir))?;
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return Err(PrivateError::NotYours {
            dir: dir.to_path_buf(),
            owner: meta.uid(),
            me,
        });
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o077 == 0 {
        return Ok(None);
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(io("make private", dir))?;
    Ok(Some(format!(
        "the data folder {} was open to other users ({mode:o}); it is now 700",
        dir.display()
    )))
}

#[cfg(not(unix))]
fn private_dir(dir: &Path) -> Result<Option<String>, PrivateError> {
    std::fs::create_dir_all(dir)
        .map(|()| None)
        .map_err(io("create", dir))
}

#[cfg(target_os = "macos")]
fn platform_log_dir(_dirs: &ProjectDirs) -> Option<PathBuf> {
    Some(BaseDirs::new()?.home_dir().join("Library/Logs/Murmur"))
}

#[cfg(not(target_os = "macos"))]
fn platform_log_dir(dirs: &ProjectDirs) -> Option<PathBuf> {
    match dirs.state_dir() {
        Some(state) => Some(state.join("logs")),
        None => Some(BaseDirs::new()?.home_dir().join(".local/state/murmur/logs")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_first_launch_is_the_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = Paths::under(&dir.path().join("new"));
        assert!(paths.first_launch());
        assert!(!paths.first_launch());
        assert!(!Paths::under(&dir.path().join("new")).first_launch());
    }

    #[test]
    fn data_dir_overrides_every_location() {
        let paths = Paths::resolve(Some(Path::new("/tmp/m")), None).expect("resolves");
        assert_eq!(paths.config_file, Path::new("/tmp/m/config.toml"));
        assert_eq!(paths.log_dir, Path::new("/tmp/m/logs"));
    }

    #[test]
    fn explicit_config_file_keeps_the_data_dir() {
        let paths = Paths::resolve(
            Some(Path::new("/tmp/m")),
            Some(Path::new("/etc/murmur.toml")),
        )
        .expect("resolves");
        assert_eq!(paths.data_dir, Path::new("/tmp/m"));
        assert_eq!(paths.config_file, Path::new("/etc/murmur.toml"));
    }
}
