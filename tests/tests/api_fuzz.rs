//! Property-based tests of the whole HTTP surface from its own OpenAPI document
//! (`/murmur/openapi.json`): schemathesis (from PyPI) generates requests for every operation —
//! valid ones, and ones just outside the schema — and no answer may be a 5xx, nothing may
//! hang, and neither murmurd nor its engine may crash. A bounded, seeded run, so CI is
//! repeatable; `MURMUR_FUZZ_EXAMPLES` and `MURMUR_FUZZ_SEED` change that.

use std::time::Duration;

use murmur_core::status::State;
use murmur_tests::Murmurd;
use murmur_tests::murmurd::{alive, fake_engine_config};
use murmur_tests::supervised::pid;
use murmur_tests::tools::schemathesis;

#[tokio::test]
async fn no_generated_request_gets_a_server_error_or_crashes_anything() {
    // Model installs the fuzzer asks for go to a Hub that is not there (loopback only).
    let murmurd = Murmurd::start(&fake_engine_config(
        &["--tone", "pcm", "--rate", "24000"],
        "audio = \"pcm\"\n\n[runtime]\nhuggingface_url = \"http://127.0.0.1:9/hub\"\n\
         python_install_mirror = \"http://127.0.0.1:9/python\"\n",
    ));
    murmurd
        .wait_for_engine("ready", Duration::from_secs(30), |s| {
            s.state == State::Ready
        })
        .await;
    let engine = pid(&murmurd.engine().await);
    let examples = std::env::var("MURMUR_FUZZ_EXAMPLES").unwrap_or_else(|_| "12".into());
    let seed = std::env::var("MURMUR_FUZZ_SEED").unwrap_or_else(|_| "19281".into());
    let python = schemathesis().await;
    // schemathesis keeps a cache in its working folder: a temporary one, not the repository.
    let scratch = tempfile::tempdir().expect("tempdir");
    let run = tokio::process::Command::new(&python)
        .current_dir(scratch.path())
        .args(["-m", "schemathesis.cli", "run"])
        .arg(murmurd.url("/murmur/openapi.json"))
        .args(["--url", &murmurd.base])
        .args(["-H", &format!("Authorization: Bearer {}", murmurd.token())])
        .args(["--checks", "not_a_server_error"])
        .args(["--max-examples", &examples, "--seed", &seed])
        .args(["--phases", "coverage,fuzzing", "--request-timeout", "30"])
        // An endless event stream, actions that stop the engine on purpose, and a settings
        // write that may switch to another engine: each has tests of its own.
        .args(["--exclude-path", "/murmur/api/events"])
        .args(["--exclude-path", "/murmur/api/engine/{action}"])
        .args([
            "--exclude-path",
            "/murmur/api/engines/{capability}/{action}",
        ])
        .args(["--exclude-method", "PUT"])
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(900), run)
        .await
        .expect("schemathesis finished within 15 minutes")
        .expect("schemathesis runs");
    let report = String::from_utf8_lossy(&output.stdout);
    let summary: String = report
        .lines()
        .skip_while(|l| !l.contains("SUMMARY"))
        .collect::<Vec<_>>()
        .join("\n");
    eprintln!("{summary}");
    assert!(
        output.status.success(),
        "schemathesis found failures:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(report.contains("Tested:"), "{report}");
    // Nothing crashed: the same engine still serves, murmurd still answers.
    let status = murmurd.engine().await;
    assert_eq!(status.state, State::Ready, "{status:#?}");
    assert_eq!(pid(&status), engine, "the engine was not restarted");
    assert!(alive(engine));
}
