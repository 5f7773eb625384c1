//! `murmurd`: Murmur without a desktop. Serves the OpenAI-compatible endpoint until SIGINT or
//! SIGTERM, then shuts down gracefully.
//!
//! Exit codes: 0 after a clean shutdown, 1 when it cannot serve (port taken, …), 2 for a
//! configuration error.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use murmur_core::config::{self, Overrides};
use murmur_core::paths::Paths;
use murmur_core::server::{self, Bound};

#[derive(Debug, Parser)]
#[command(
    name = "murmurd",
    version,
    about = "Murmur's local OpenAI-compatible speech server, headless"
)]
struct Cli {
    #[command(flatten)]
    args: murmur_core::cli::Args,
}

fn main() -> ExitCode {
    let args = Cli::parse().args;
    let Some(paths) = args.paths() else {
        eprintln!("murmurd: cannot tell where your home folder is; pass --data-dir DIR");
        return ExitCode::from(2);
    };

    let made_private = match paths.make_private() {
        Ok(note) => note,
        Err(e) => {
            eprintln!("murmurd: {e}");
            return ExitCode::from(2);
        }
    };
    let (_log_guard, log_problem) = murmur_core::logging::init(&paths.log_dir, "murmurd");
    if let Some(problem) = log_problem {
        tracing::warn!("logging to stderr only: {problem}");
    }
    if let Some(note) = made_private {
        tracing::warn!("{note}");
    }

    let loaded = args.overrides().and_then(|overrides| {
        config::load(&paths.config_file, &overrides).map(|settings| (settings, overrides))
    });
    let (settings, overrides) = match loaded {
        Ok(loaded) => loaded,
        Err(e) => {
            tracing::error!("configuration error: {e}");
            eprintln!("murmurd: configuration error: {e}");
            eprintln!(
                "hint: fix the file (its previous version, if Murmur saved one, is beside it as .bak)"
            );
            return ExitCode::from(2);
        }
    };

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("murmurd: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(settings, paths, overrides))
}

async fn run(settings: config::Settings, paths: Paths, overrides: Overrides) -> ExitCode {
    let bound = match Bound::new(&settings, &paths, &overrides).await {
        Ok(bound) => bound,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("murmurd: {e}");
            if let Some(hint) = e.hint() {
                eprintln!("hint: {hint}");
            }
            return ExitCode::FAILURE;
        }
    };
    let shutdown = server::shutdown_signal();
    let url = bound.api_url();
    tracing::info!(
        engine = %settings.engine.id,
        config = %paths.config_file.display(),
        logs = %paths.log_dir.display(),
        "Murmur is listening on {url}"
    );
    // The one line a script or a test reads to learn the address.
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "Murmur listening on {url}");
    if let Some(wyoming) = &bound.wyoming {
        tracing::info!("Wyoming listening on tcp://{}", wyoming.addr);
        let _ = writeln!(stdout, "Wyoming listening on tcp://{}", wyoming.addr);
    }
    // The page, and where its token is: never the token itself (stdout ends up in journals,
    // launchd logs and scrollback, and the token lets its holder run commands).
    let _ = writeln!(
        stdout,
        "Status page: http://{}/murmur/ (its control token is in {})",
        bound.addr,
        paths.data_dir.join("control-token").display()
    );
    let _ = stdout.flush();

    let reloads = tokio::spawn(server::reload_on_sighup(bound.control.clone()));
    let served = bound.run(shutdown).await;
    reloads.abort();
    match served {
        Ok(drained) => {
            tracing::info!(drained, "Murmur stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!("server error: {e}");
            ExitCode::FAILURE
        }
    }
}
