//! Murmur's core: everything that is not desktop UI.
//!
//! # Theory of operation
//!
//! **Engines.** Murmur has one engine per capability ([`engines::Engines`], indexed by
//! [`engines::Capability`]): speech always, transcription unless `[transcription] engine =
//! "off"`. Each [`engines::Engine`] is a [`backend::Backend`] (how the proxy readies and finds
//! it), the [`supervisor::Supervisor`] that runs it when Murmur does (an external server has
//! none) and a [`gate::Gate`] its requests pass. [`server`] builds the collection once; the
//! proxy, [`control`], the status, the metrics and the tray index or iterate it. What an
//! engine *is* (its launch, Python project, preparation) is data in [`engine`]: an
//! [`engine::Engine`] plus what it serves ([`engine::SpeechEngine`],
//! [`engine::TranscriptionEngine`]).
//!
//! **Every HTTP request** passes one [`front::Front`] door: the request log (and metrics)
//! around refusal delivery ([`refusal`]) around the guards ([`security`]: Host, Origin, CORS,
//! API key) around the routes — Murmur's own ([`control`]) and OpenAI's ([`proxy`], [`live`]);
//! a path none of them serves goes from the guards straight to the engine.
//!
//! **Speech.** A client talks to the [`proxy`] on `127.0.0.1:19281`. Requests that need the
//! speech engine (`POST /v1/audio/speech`, `GET /v1/models`, `GET /v1/audio/voices`) first
//! wait on [`backend::Backend::ensure_ready`], which is single-flight: however many requests
//! arrive while the engine is cold, one start attempt runs and all of them share its outcome.
//! A ready supervised engine is found without asking its actor (its port is offered in an
//! atomic the actor keeps current). Requests then pass the engine's gate and are forwarded to
//! its loopback port, on a kept connection the request's own task drives (no task hop); the
//! audio streams back chunk by chunk, encoded by Murmur ([`audio`]) into the client's format.
//! Every other path is forwarded as is, with no readiness wait.
//! `/murmur/…` belongs to Murmur itself and is never forwarded.
//!
//! **Transcription.** `POST /v1/audio/transcriptions` (and `/translations`) reads the
//! upload whole, waits for a slot at the transcription engine's gate, then decodes it
//! ([`transcription`]: any container to 16 kHz 16-bit mono, checked before anything is sized
//! by it) and sends it to the engine in pieces of at most ten minutes, cut at pauses; the
//! segments come back as they are decided and are rendered in the client's format, or as
//! server-sent events while they come.
//!
//! **Wyoming.** Home Assistant's protocol ([`wyoming`]) is a second front door onto the same
//! engines: a session's typed events become calls on the proxy's speech and transcription
//! paths, so engines start, queue, unload and restart exactly as for HTTP, and each request is
//! counted and logged as an HTTP one is.
//!
//! **Live sessions** (OpenAI's Realtime transcription, [`live`]): a WebSocket session is one
//! more door of the same kind, onto the transcription engine's gate and backend.
//!
//! [`config`] owns the settings (file, environment, flags; [`config::LiveSettings`] is the one
//! value everyone follows), [`server`] binds the sockets and shuts down gracefully, and the
//! `murmurd` binary wires them together for headless use. The desktop shell (`murmur`) uses
//! the same pieces.

pub mod accept;
pub mod api_error;
pub mod audio;
pub mod backend;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod control;
pub mod desk;
pub mod dictations;
pub mod drain;
pub mod engine;
pub mod engines;
pub mod front;
pub mod gate;
pub mod http_client;
pub mod language;
pub mod lines;
pub mod live;
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
pub mod shortcut;
pub mod speech_request;
pub mod status;
pub mod supervisor;
pub mod time;
pub mod transcription;
pub mod tray;
pub mod voices;
pub mod wyoming;
