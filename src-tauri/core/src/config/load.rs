//! Reading settings: file, then environment, then flags, then validation.

use std::ops::Range;
use std::path::Path;

use super::validate::{FieldError, check};
use super::{ConfigError, EngineId, Settings, TranscriptionEngineId, env};

/// Values that override the config file: from the environment and from flags.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    pub port: Option<u16>,
    pub engine: Option<EngineId>,
    pub transcription: Option<TranscriptionEngineId>,
}

impl Overrides {
    /// Read `MURMUR_PORT` and `MURMUR_ENGINE` through `var` (so tests need not touch the
    /// process environment).
    pub fn from_env_with(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let port = match var(env::PORT) {
            Some(value) => Some(value.trim().parse::<u16>().map_err(|_| ConfigError::Env {
                var: env::PORT,
                value: value.clone(),
                message: "expected a port number from 0 to 65535".into(),
            })?),
            None => None,
        };
        let engine = match var(env::ENGINE) {
            Some(value) => {
                Some(
                    EngineId::from_name(value.trim()).ok_or_else(|| ConfigError::Env {
                        var: env::ENGINE,
                        value: value.clone(),
                        message: format!("expected one of {}", engine_names()),
                    })?,
                )
            }
            None => None,
        };
        let transcription = match var(env::TRANSCRIPTION) {
            Some(value) => Some(TranscriptionEngineId::from_name(value.trim()).ok_or_else(
                || ConfigError::Env {
                    var: env::TRANSCRIPTION,
                    value: value.clone(),
                    message: format!("expected one of {}", transcription_engine_names()),
                },
            )?),
            None => None,
        };
        Ok(Self {
            port,
            engine,
            transcription,
        })
    }

    /// Read the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// `self` with every value that `higher` sets replaced by it.
    pub fn overridden_by(self, higher: Overrides) -> Self {
        Self {
            port: higher.port.or(self.port),
            engine: higher.engine.or(self.engine),
            transcription: higher.transcription.or(self.transcription),
        }
    }

    /// Put these values into `settings`.
    pub fn apply(&self, settings: &mut Settings) {
        if let Some(port) = self.port {
            settings.proxy.port = port;
        }
        if let Some(engine) = self.engine {
            settings.engine.id = engine;
        }
        if let Some(transcription) = self.transcription {
            settings.transcription.engine = transcription;
        }
    }
}

/// Names accepted for an engine id, for error messages.
pub(super) fn engine_names() -> String {
    EngineId::ALL
        .iter()
        .map(|id| id.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Names accepted for a transcription engine, for error messages.
pub fn transcription_engine_names() -> String {
    TranscriptionEngineId::ALL
        .iter()
        .map(|id| id.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Load the config file (defaults when it does not exist), apply overrides, validate.
pub fn load(config_file: &Path, overrides: &Overrides) -> Result<Settings, ConfigError> {
    let mut settings = load_file(config_file)?;
    overrides.apply(&mut settings);
    if let Some(error) = check(&settings).into_iter().next() {
        return Err(invalid(error, None, None));
    }
    Ok(settings)
}

/// Load and validate the config file alone. A missing file means defaults.
pub fn load_file(config_file: &Path) -> Result<Settings, ConfigError> {
    match fs_err::read_to_string(config_file) {
        Ok(src) => parse(&src, config_file),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
        Err(e) => Err(ConfigError::Read {
            path: config_file.to_path_buf(),
            source: e,
        }),
    }
}

/// Parse and validate TOML text; `path` is only used in errors.
pub fn parse(src: &str, path: &Path) -> Result<Settings, ConfigError> {
    let settings: Settings = toml::from_str(src).map_err(|e| {
        let span = e.span();
        ConfigError::Parse {
            path: path.to_path_buf(),
            key: span.clone().and_then(|s| key_at(src, s)),
            line: span.map(|s| line_of(src, s.start)),
            message: e.message().trim().to_string(),
        }
    })?;
    if let Some(error) = check(&settings).into_iter().next() {
        let line = key_line(src, &error.key);
        return Err(invalid(error, Some(path), line));
    }
    Ok(settings)
}

fn invalid(error: FieldError, path: Option<&Path>, line: Option<usize>) -> ConfigError {
    ConfigError::Invalid {
        path: path.map(Path::to_path_buf),
        key: error.key,
        line,
        message: error.message,
    }
}

/// 1-based line of a byte offset.
fn line_of(src: &str, offset: usize) -> usize {
    src[..offset.min(src.len())].matches('\n').count() + 1
}

/// The line where a dotted key is written or, when it is missing, where its table is.
fn key_line(src: &str, dotted: &str) -> Option<usize> {
    let doc = toml_edit::Document::parse(src).ok()?;
    let mut table: &dyn toml_edit::TableLike = doc.as_table();
    let mut line = None;
    for part in dotted.split('.') {
        let Some((key, item)) = table.get_key_value(part) else {
            return line;
        };
        line = key
            .span()
            .or_else(|| item.span())
            .map(|s| line_of(src, s.start))
            .or(line);
        match item.as_table_like() {
            Some(inner) => table = inner,
            None => return line,
        }
    }
    line
}

/// The dotted key whose key or value covers `span`: what a parse error is about.
fn key_at(src: &str, span: Range<usize>) -> Option<String> {
    let doc = toml_edit::Document::parse(src).ok()?;
    let mut path = Vec::new();
    find_key(doc.as_table(), &span, &mut path).then(|| path.join("."))
}

fn find_key(table: &dyn toml_edit::TableLike, span: &Range<usize>, path: &mut Vec<String>) -> bool {
    for (name, item) in table.iter() {
        let Some((key, _)) = table.get_key_value(name) else {
            continue;
        };
        let covers = |s: Option<Range<usize>>| {
            s.is_some_and(|s| s.start <= span.start && span.end <= s.end.max(s.start + 1))
        };
        path.push(name.to_string());
        if let Some(inner) = item.as_table_like()
            && find_key(inner, span, path)
        {
            return true;
        }
        if covers(key.span()) || (item.as_table_like().is_none() && covers(item.span())) {
            return true;
        }
        path.pop();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by `make fuzz`: toml_edit 0.23 panicked ("all items have spans") while Murmur
    /// looked for the key of a parse error, so this file crashed murmurd at start.
    #[test]
    fn a_garbled_file_is_an_error_not_a_crash() {
        let err = parse("\n=={\n.\\!", Path::new("config.toml")).expect_err("garbled");
        assert!(err.to_string().contains("config.toml"), "{err}");
    }
    use crate::config::AudioFormat;

    fn parse_str(src: &str) -> Result<Settings, ConfigError> {
        parse(src, Path::new("config.toml"))
    }

    #[test]
    fn an_empty_file_is_all_defaults() {
        assert_eq!(parse_str("").expect("parses"), Settings::default());
    }

    #[test]
    fn values_from_the_file_are_used() {
        let settings = parse_str(
            "[proxy]\nport = 8123\n[engine]\nid = \"external\"\nurl = \"http://127.0.0.1:9\"\nresponse_format = \"pcm\"\n",
        )
        .expect("parses");
        assert_eq!(settings.proxy.port, 8123);
        assert_eq!(settings.engine.id, EngineId::External);
        assert_eq!(settings.engine.response_format, AudioFormat::Pcm);
    }

    #[test]
    fn an_unknown_key_is_named_with_its_line() {
        let err = parse_str("[proxy]\nport = 1\nprot = 2\n").expect_err("unknown key");
        assert_eq!(err.key(), Some("proxy.prot"), "{err}");
        assert_eq!(err.line(), Some(3));
        assert!(err.to_string().contains("prot"), "{err}");
    }

    #[test]
    fn a_wrong_type_is_named_with_its_line() {
        let err = parse_str("\n[supervisor]\nmax_restarts = \"three\"\n").expect_err("bad type");
        assert_eq!(err.key(), Some("supervisor.max_restarts"), "{err}");
        assert_eq!(err.line(), Some(3));
    }

    #[test]
    fn an_unknown_engine_lists_the_known_ones() {
        let err = parse_str("[engine]\nid = \"espeak\"\n").expect_err("unknown engine");
        assert_eq!(err.key(), Some("engine.id"), "{err}");
        assert!(err.to_string().contains("mlx-audio"), "{err}");
    }

    #[test]
    fn broken_toml_gives_the_line() {
        let err = parse_str("[proxy]\nport = \n").expect_err("broken");
        assert_eq!(err.line(), Some(2), "{err}");
    }

    #[test]
    fn an_invalid_value_is_named_with_its_line() {
        let err = parse_str("[engine]\nspeed = 9.0\n").expect_err("speed out of range");
        assert_eq!(err.key(), Some("engine.speed"));
        assert_eq!(err.line(), Some(2));
        assert!(err.to_string().contains("config.toml"), "{err}");
    }

    #[test]
    fn env_overrides_the_file_and_flags_override_env() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("config.toml");
        std::fs::write(
            &file,
            "[proxy]\nport = 1000\n[engine]\nid = \"custom\"\ncustom.command = [\"x\"]\n",
        )
        .expect("write");
        let env = Overrides::from_env_with(|name| match name {
            "MURMUR_PORT" => Some("2000".into()),
            "MURMUR_ENGINE" => Some("external".into()),
            _ => None,
        })
        .expect("env parses");
        let flags = Overrides {
            port: Some(3000),
            engine: None,
            transcription: None,
        };

        let file_only = load(&file, &Overrides::default()).expect("loads");
        assert_eq!(
            (file_only.proxy.port, file_only.engine.id),
            (1000, EngineId::Custom)
        );

        let mut env_only = env.clone();
        env_only.engine = None;
        assert_eq!(load(&file, &env_only).expect("loads").proxy.port, 2000);

        let err = load(&file, &env).expect_err("external needs a url");
        assert_eq!(err.key(), Some("engine.url"));

        let both = Overrides {
            engine: Some(EngineId::Custom),
            ..env
        }
        .overridden_by(flags);
        assert_eq!(load(&file, &both).expect("loads").proxy.port, 3000);
    }

    #[test]
    fn the_transcription_engine_comes_from_env_and_flags_and_is_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("config.toml");
        std::fs::write(
            &file,
            "[transcription]
engine = \"off\"\n",
        )
        .expect("write");
        let env = Overrides::from_env_with(|name| {
            (name == "MURMUR_TRANSCRIPTION").then(|| "external".to_string())
        })
        .expect("env parses");
        let err = load(&file, &env).expect_err("external needs a url");
        assert_eq!(err.key(), Some("transcription.url"));
        let flags = Overrides {
            transcription: Some(TranscriptionEngineId::Whisper),
            ..Overrides::default()
        };
        let settings = load(&file, &env.overridden_by(flags)).expect("loads");
        assert_eq!(
            settings.transcription.engine,
            TranscriptionEngineId::Whisper
        );
        assert_eq!(
            settings.transcription.effective_model().as_deref(),
            Some("base")
        );
        let bad = Overrides::from_env_with(|name| {
            (name == "MURMUR_TRANSCRIPTION").then(|| "wisper".to_string())
        })
        .expect_err("no such engine");
        assert!(bad.to_string().contains("MURMUR_TRANSCRIPTION"), "{bad}");
        assert!(bad.to_string().contains("mlx-audio"), "{bad}");
    }

    #[test]
    fn a_bad_env_value_names_the_variable() {
        let err = Overrides::from_env_with(|name| (name == "MURMUR_PORT").then(|| "http".into()))
            .expect_err("not a port");
        assert!(err.to_string().contains("MURMUR_PORT"), "{err}");
        let err =
            Overrides::from_env_with(|name| (name == "MURMUR_ENGINE").then(|| "coqui".into()))
                .expect_err("not an engine");
        assert!(err.to_string().contains("MURMUR_ENGINE"), "{err}");
    }

    #[test]
    fn a_missing_file_means_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let settings = load(&dir.path().join("nope.toml"), &Overrides::default()).expect("loads");
        assert_eq!(settings, Settings::default());
    }
}
