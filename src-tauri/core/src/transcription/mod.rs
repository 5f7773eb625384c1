//! Listening: OpenAI's `POST /v1/audio/transcriptions` and `/translations`.
//!
//! # Theory of operation
//!
//! Formats are Murmur's job in both directions. A client's upload ([`form`]) is recognised
//! from its bytes ([`container`]) and decoded ([`decode`]) to 16 kHz mono PCM; the transcription engine — its own
//! process under its own supervisor, beside the speech engine — gets only that PCM and the
//! options, and answers with segments as it decides them (NDJSON, [`engine`]). Murmur writes
//! them in the format the client asked for ([`transcript`]): `json`, `text`, `srt`, `vtt`,
//! `verbose_json`, or server-sent events as each segment arrives.
//!
//! The proxy's handler (`proxy::transcriptions`) ties these together; nothing here knows HTTP routing.

pub mod container;
pub mod decode;
pub mod engine;
pub mod form;
pub mod transcript;
