//! The command line both binaries share (`murmurd` and the desktop app `murmur`): the same
//! flags, the same `--help`, and an unknown flag is an error. Flags win over the environment
//! (`MURMUR_*`), which wins over the config file. Paths given relative are made absolute at
//! start, so nothing later (uv runs in other folders) resolves them against another directory.

use std::path::{Path, PathBuf};

use clap::Args as ClapArgs;

use crate::config::{self, EngineId, Overrides, TranscriptionEngineId};
use crate::paths::Paths;

/// Murmur's flags; flatten into a binary's own `clap::Parser`.
#[derive(Debug, Clone, Default, ClapArgs)]
pub struct Args {
    /// Settings file [env: MURMUR_CONFIG] [default: the platform's config folder]
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Keep config, data and logs under DIR [env: MURMUR_DATA_DIR]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Port of the endpoint; 0 picks a free one [env: MURMUR_PORT] [default: 19281]
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,
    /// Engine: piper, kokoro, mlx-audio, custom or external [env: MURMUR_ENGINE]
    #[arg(long, value_name = "ID", value_parser = parse_engine)]
    pub engine: Option<EngineId>,
    /// Transcription engine: whisper, mlx-audio, custom, external or off
    /// [env: MURMUR_TRANSCRIPTION]
    #[arg(long, value_name = "ID", value_parser = parse_transcription_engine)]
    pub transcription: Option<TranscriptionEngineId>,
}

/// A flag's value that is none of the names it takes.
#[derive(Debug, thiserror::Error)]
#[error("expected one of {expected}")]
pub struct UnknownName {
    expected: String,
}

fn parse_transcription_engine(name: &str) -> Result<TranscriptionEngineId, UnknownName> {
    TranscriptionEngineId::from_name(name).ok_or_else(|| UnknownName {
        expected: config::transcription_engine_names(),
    })
}

fn parse_engine(name: &str) -> Result<EngineId, UnknownName> {
    EngineId::from_name(name).ok_or_else(|| {
        let names: Vec<_> = EngineId::ALL.iter().map(|id| id.as_str()).collect();
        UnknownName {
            expected: names.join(", "),
        }
    })
}

impl Args {
    /// Where config, data and logs live: flags, else the environment, else the platform's
    /// folders; always absolute. `None` when there is no home folder to put them in.
    pub fn paths(&self) -> Option<Paths> {
        let env_path = |var| std::env::var_os(var).map(PathBuf::from);
        let data_dir = self
            .data_dir
            .clone()
            .or_else(|| env_path(config::env::DATA_DIR))
            .map(|p| absolute(&p));
        let config_file = self
            .config
            .clone()
            .or_else(|| env_path(config::env::CONFIG))
            .map(|p| absolute(&p));
        Paths::resolve(data_dir.as_deref(), config_file.as_deref())
    }

    /// What flags and the environment set on top of the file (flags win).
    pub fn overrides(&self) -> Result<Overrides, config::ConfigError> {
        let flags = Overrides {
            port: self.port,
            engine: self.engine,
            transcription: self.transcription,
        };
        Overrides::from_env().map(|env| env.overridden_by(flags))
    }
}

/// `path` from the current directory, as it is now.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn flags_parse_and_relative_paths_become_absolute() {
        let cli = Cli::try_parse_from([
            "murmur",
            "--port",
            "8123",
            "--data-dir",
            "dd1",
            "--engine",
            "piper",
        ])
        .expect("valid flags");
        assert_eq!(cli.args.port, Some(8123));
        assert_eq!(cli.args.engine, Some(EngineId::Piper));
        let paths = cli.args.paths().expect("paths");
        assert!(paths.data_dir.is_absolute(), "{}", paths.data_dir.display());
        assert!(paths.data_dir.ends_with("dd1"));
        assert!(paths.config_file.is_absolute());
    }

    #[test]
    fn unknown_flags_and_engines_are_errors() {
        assert!(Cli::try_parse_from(["murmur", "--prot", "1"]).is_err());
        let err = Cli::try_parse_from(["murmur", "--engine", "espeak"])
            .err()
            .expect("error");
        assert!(err.to_string().contains("piper"), "{err}");
    }
}
