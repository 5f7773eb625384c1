//! Playing a test phrase from the tray, with the platform's own command-line player: no audio
//! stack in Murmur itself. The WAV goes to a temporary file that lives until the player ends.

use std::path::{Path, PathBuf};
use std::process::Stdio;

/// A player command; the file's path is appended to `args`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Player {
    pub program: PathBuf,
    pub args: Vec<String>,
}

/// Why nothing was played.
#[derive(Debug, thiserror::Error)]
pub enum PlayError {
    #[error("no audio player was found (looked for {0})")]
    NoPlayer(String),
    #[error("cannot write the audio to a temporary file")]
    Write(#[source] std::io::Error),
    #[error("{program} could not be started")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{program} failed: {message}")]
    Failed { program: String, message: String },
}

/// The players tried, best first: `afplay` on macOS; PipeWire, PulseAudio, ALSA, ffmpeg on
/// Linux.
pub fn candidates() -> Vec<(&'static str, &'static [&'static str])> {
    if cfg!(target_os = "macos") {
        vec![("afplay", &[])]
    } else {
        vec![
            ("pw-play", &[]),
            ("paplay", &[]),
            ("aplay", &["-q"]),
            ("ffplay", &["-nodisp", "-autoexit", "-loglevel", "error"]),
        ]
    }
}

/// The first of `candidates` found on `path` (a `PATH`-style list).
pub fn find(
    candidates: &[(&str, &[&str])],
    path: Option<&std::ffi::OsStr>,
) -> Result<Player, PlayError> {
    let dirs: Vec<PathBuf> = path
        .map(|p| std::env::split_paths(p).collect())
        .unwrap_or_default();
    for (name, args) in candidates {
        for dir in &dirs {
            let program = dir.join(name);
            if is_executable(&program) {
                return Ok(Player {
                    program,
                    args: args.iter().map(|a| a.to_string()).collect(),
                });
            }
        }
    }
    let names: Vec<&str> = candidates.iter().map(|(name, _)| *name).collect();
    Err(PlayError::NoPlayer(names.join(", ")))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// Play `wav` with `player` and wait until it has finished.
pub async fn play(player: &Player, wav: &[u8]) -> Result<(), PlayError> {
    let file = tempfile::Builder::new()
        .prefix("murmur-test-")
        .suffix(".wav")
        .tempfile()
        .map_err(PlayError::Write)?;
    // Murmur's WAV streams with its lengths unknown; a player reading a file wants them.
    let mut wav = wav.to_vec();
    crate::audio::encode::seal_wav(&mut wav);
    std::fs::write(file.path(), &wav).map_err(PlayError::Write)?;
    let program = player.program.display().to_string();
    let output = tokio::process::Command::new(&player.program)
        .args(&player.args)
        .arg(file.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|source| PlayError::Spawn {
            program: program.clone(),
            source,
        })?;
    if output.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let message = stderr
            .lines()
            .find(|l| !l.trim().is_empty())
            .map(str::trim)
            .map(String::from)
            .unwrap_or_else(|| output.status.to_string());
        Err(PlayError::Failed { program, message })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        path
    }

    #[test]
    fn the_first_player_on_the_path_wins() {
        let first = tempfile::tempdir().expect("tempdir");
        let second = tempfile::tempdir().expect("tempdir");
        script(second.path(), "aplay", "exit 0");
        script(second.path(), "paplay", "exit 0");
        std::fs::write(first.path().join("pw-play"), "not executable").expect("write");
        let path = std::env::join_paths([first.path(), second.path()]).expect("join");
        let player = find(&candidates(), Some(&path)).expect("a player");
        assert_eq!(player.program, second.path().join("paplay"));
        let none = tempfile::tempdir().expect("tempdir");
        let error = find(&candidates(), Some(none.path().as_os_str())).expect_err("none");
        assert!(
            error.to_string().contains("pw-play, paplay, aplay, ffplay"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn the_player_gets_the_audio_in_a_file_that_is_gone_afterwards() {
        let dir = tempfile::tempdir().expect("tempdir");
        let copy = dir.path().join("heard.wav");
        let seen = dir.path().join("path.txt");
        let program = script(
            dir.path(),
            "player",
            &format!(
                "for last; do :; done; echo \"$1 $last\" > {}; cp \"$last\" {}",
                seen.display(),
                copy.display()
            ),
        );
        let player = Player {
            program,
            args: vec!["-q".into()],
        };
        play(&player, b"RIFF....WAVE").await.expect("played");
        assert_eq!(std::fs::read(&copy).expect("copied"), b"RIFF....WAVE");
        let seen = std::fs::read_to_string(&seen).expect("seen");
        let (flag, file) = seen.trim().split_once(' ').expect("two words");
        assert_eq!(flag, "-q");
        assert!(file.ends_with(".wav"), "{file}");
        assert!(!Path::new(file).exists(), "the temporary file is removed");
    }

    #[tokio::test]
    async fn a_failing_player_says_why() {
        let dir = tempfile::tempdir().expect("tempdir");
        let program = script(
            dir.path(),
            "player",
            "echo 'Connection failure: Connection refused' >&2; exit 1",
        );
        let player = Player {
            program,
            args: vec![],
        };
        let error = play(&player, b"RIFF").await.expect_err("fails");
        assert!(
            error
                .to_string()
                .ends_with("failed: Connection failure: Connection refused"),
            "{error}"
        );
    }
}
