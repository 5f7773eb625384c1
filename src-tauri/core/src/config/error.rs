//! What can go wrong with settings, worded for the person who has to fix it.

use std::path::PathBuf;

/// A settings error. Each variant says where the problem is: the file and line, the key, or
/// the environment variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The file is not valid TOML, has an unknown key, or a value of the wrong type.
    #[error("{path}{}: {}{message}", at_line(*line), key_prefix(key))]
    Parse {
        path: PathBuf,
        /// Dotted key, when the error points at one.
        key: Option<String>,
        line: Option<usize>,
        message: String,
    },

    /// The value parsed but is not acceptable.
    #[error("{}`{key}`{}: {message}", in_file(path), at_line(*line))]
    Invalid {
        path: Option<PathBuf>,
        key: String,
        line: Option<usize>,
        message: String,
    },

    #[error("environment variable {var}={value:?}: {message}")]
    Env {
        var: &'static str,
        value: String,
        message: String,
    },

    #[error("cannot write the config file {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot encode the settings as TOML")]
    Encode(#[from] toml::ser::Error),
}

impl ConfigError {
    /// The dotted key the error is about, if any (`proxy.port`).
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Parse { key, .. } => key.as_deref(),
            Self::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }

    /// The 1-based line in the config file, if known.
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::Parse { line, .. } | Self::Invalid { line, .. } => *line,
            _ => None,
        }
    }
}

fn at_line(line: Option<usize>) -> String {
    line.map(|l| format!(", line {l}")).unwrap_or_default()
}

fn key_prefix(key: &Option<String>) -> String {
    key.as_ref().map(|k| format!("`{k}`: ")).unwrap_or_default()
}

fn in_file(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map(|p| format!("{}: ", p.display()))
        .unwrap_or_default()
}
