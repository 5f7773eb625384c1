//! The bench's other processes: this binary run again as the fake engine or as hyper alone.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};
use murmur_tests::FakeUpstream;

/// Run this binary again with `args` (the fake engine, or hyper alone) as a child process
/// that prints its URL, so that every path crosses process boundaries as real clients do.
/// The child serves until its stdin closes.
pub fn spawn_child(args: &[&str]) -> Result<(std::process::Child, String)> {
    let mut child = Command::new(std::env::current_exe()?)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("spawn {args:?}"))?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
    Ok((child, line.trim().to_string()))
}

/// Until the parent closes stdin.
async fn until_stdin_closes() -> Result<()> {
    tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin(), &mut std::io::sink()))
        .await??;
    Ok(())
}

/// `--hyper-alone <engine URL>`: the bare hyper proxy, until the parent closes stdin.
pub async fn serve_hyper_alone(upstream: &str) -> Result<()> {
    let (base, _serving) = murmur_tests::hyper_alone::start(upstream).await?;
    println!("{base}");
    until_stdin_closes().await
}

/// `--fake-upstream`: serve until the parent closes stdin. `--fake-upstream --port N`: serve
/// on port N as an engine Murmur supervises, until it is stopped.
pub async fn serve_fake() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let port = args
        .iter()
        .position(|a| a == "--port")
        .and_then(|i| args.get(i + 1))
        .map(|p| p.parse::<u16>())
        .transpose()?;
    let fake = FakeUpstream::start_on(port.unwrap_or(0)).await;
    if port.is_some() {
        std::future::pending::<()>().await;
    }
    println!("{}", fake.url());
    until_stdin_closes().await
}
