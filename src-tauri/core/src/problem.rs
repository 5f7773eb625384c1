//! What went wrong, said one way everywhere: a [`Problem`] is a sentence, what the user can do
//! about it, and the [`Stage`] of an engine's start it happened at.
//!
//! A problem travels unchanged from where it is found (a runtime that cannot sync, a model that
//! cannot be fetched, an engine that exits while starting) to everyone who shows it: the 503 a
//! client gets, the status's `error`, the tray's notification, the page's failure card. A leaf
//! module: it knows nothing of the rest of Murmur.

use serde::{Deserialize, Serialize};

/// A step of an engine's start, as the status's `warmup.stage` and an error's `stage` name it.
///
/// The warm-up steps ([`Stage::WARMUP`]) are what the page's warm-up card lists; the others say
/// where a start stands when a request cannot wait for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Fetching uv itself.
    Uv,
    /// Finding or installing the Python interpreter.
    Python,
    /// Installing the engine's Python packages.
    Packages,
    /// Unpacking the language data an engine needs beside its packages.
    Assets,
    /// Fetching the model.
    Model,
    /// Fetching a voice.
    Voice,
    /// Waiting for the engine's server to answer its probe.
    Server,
    /// Asking a speech engine for its first words.
    Speech,
    /// Ready.
    Ready,
    /// Probing a server Murmur does not run.
    Probing,
    /// Starting (no finer step known).
    Starting,
    /// Murmur gave up on the engine until the user restarts it.
    Failed,
}

impl Stage {
    /// The warm-up steps, in the order an engine goes through them.
    pub const WARMUP: [Stage; 9] = [
        Stage::Uv,
        Stage::Python,
        Stage::Packages,
        Stage::Assets,
        Stage::Model,
        Stage::Voice,
        Stage::Server,
        Stage::Speech,
        Stage::Ready,
    ];

    /// As the JSON says it: `packages`, `speech`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Uv => "uv",
            Self::Python => "python",
            Self::Packages => "packages",
            Self::Assets => "assets",
            Self::Model => "model",
            Self::Voice => "voice",
            Self::Server => "server",
            Self::Speech => "speech",
            Self::Ready => "ready",
            Self::Probing => "probing",
            Self::Starting => "starting",
            Self::Failed => "failed",
        }
    }

    /// For people, as the warm-up card lists it: "Language data", "First words".
    pub fn label(self) -> &'static str {
        match self {
            Self::Uv => "uv",
            Self::Python => "Python",
            Self::Packages => "Packages",
            Self::Assets => "Language data",
            Self::Model => "Model",
            Self::Voice => "Voice",
            Self::Server => "Server",
            Self::Speech => "First words",
            Self::Ready => "Ready",
            Self::Probing => "Probing",
            Self::Starting => "Starting",
            Self::Failed => "Failed",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What went wrong, worded for the person who has to act on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct Problem {
    /// What happened, in a sentence.
    pub message: String,
    /// What the user can do about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The step of an engine's start it happened at, if it happened starting one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<Stage>,
}

impl Problem {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
            stage: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The hint, unless one is already given.
    pub fn or_hint(mut self, hint: impl Into<String>) -> Self {
        if self.hint.is_none() {
            self.hint = Some(hint.into());
        }
        self
    }

    pub fn at(mut self, stage: Stage) -> Self {
        self.stage = Some(stage);
        self
    }

    /// The same problem at `stage`, or at none.
    pub fn with_stage(mut self, stage: Option<Stage>) -> Self {
        self.stage = stage;
        self
    }

    /// The same problem, with `before` in front of its message.
    pub fn context(mut self, before: &str) -> Self {
        self.message = format!("{before}: {}", self.message);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_serialise_as_their_names() {
        for stage in
            Stage::WARMUP
                .into_iter()
                .chain([Stage::Probing, Stage::Starting, Stage::Failed])
        {
            let json = serde_json::to_value(stage).expect("serialises");
            assert_eq!(json, stage.name());
            let back: Stage = serde_json::from_value(json).expect("reads back");
            assert_eq!(back, stage);
        }
    }

    #[test]
    fn a_problem_without_hint_or_stage_has_only_its_message() {
        let json = serde_json::to_value(Problem::new("gone")).expect("serialises");
        assert_eq!(json, serde_json::json!({"message": "gone"}));
        let full = Problem::new("gone").hint("restart").at(Stage::Model);
        let json = serde_json::to_value(&full).expect("serialises");
        assert_eq!(json["stage"], "model");
        assert_eq!(json["hint"], "restart");
        assert_eq!(
            Problem::new("x").hint("first").or_hint("second").hint,
            Some("first".into())
        );
    }
}
