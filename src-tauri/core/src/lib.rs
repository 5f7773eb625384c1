//! Murmur's core: everything that is not desktop UI.
//!
//! # Theory of operation
//!
//! A client talks to the [`proxy`] on `127.0.0.1:19281`. Requests that need the speech engine
//! (`POST /v1/audio/speech`, `GET /v1/models`, `GET /v1/audio/voices`) first wait on
//! [`backend::Backend::ensure_ready`], which is single-flight: however many requests arrive
//! while the engine is cold, one start attempt runs and all of them share its outcome. Once
//! ready, requests pass a per-engine concurrency gate and are forwarded to the engine's
//! loopback port; the response body streams straight back, chunk by chunk.
//!
//! Every other path is forwarded as is, with no readiness wait. `/murmur/…` belongs to Murmur
//! itself and is never forwarded.
//!
//! [`config`] owns the settings (file, environment, flags), [`server`] binds the socket and
//! shuts down gracefully, and the `murmurd` binary wires them together for headless use. The
//! desktop shell (`murmur`) uses the same pieces.

pub mod accept;
pub mod api_error;
pub mod audio;
pub mod backend;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod control;
pub mod engine;
pub mod engines;
pub mod gate;
pub mod http_client;
pub mod language;
pub mod lines;
pub mod logging;
pub mod metrics;
pub mod paths;
pub mod playback;
pub mod port_owner;
pub mod problem;
pub mod proxy;
pub mod refusal;
pub mod request_log;
pub mod runtime;
pub mod security;
pub mod server;
pub mod speech_request;
pub mod status;
pub mod supervisor;
pub mod time;
pub mod transcription;
pub mod tray;
pub mod voices;
pub mod wyoming;
