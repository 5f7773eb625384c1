//! Saving settings from the page or the window: the user's file keeps its lines and comments,
//! and what restarts is what the answer says.

use murmur_tests::Murmurd;
use murmur_tests::supervised::pid;
use serde_json::json;

/// The page saves the whole settings object; the file keeps the user's lines and comments and
/// changes only what changed. A request default (speed) applies without a restart, and the
/// answer says so.
#[tokio::test]
async fn saving_keeps_the_users_file_and_a_speed_change_restarts_nothing() {
    let config = murmur_tests::murmurd::fake_engine_config(
        &[],
        "# my supervisor tweaks\n[supervisor]\nauto_start = false # start on demand\n",
    );
    let murmurd = Murmurd::start(&config);
    let file = murmurd.data_dir().join("config.toml");
    let before = std::fs::read_to_string(&file).expect("config");
    assert_eq!(
        murmur_tests::supervised::speak(&murmurd, "hi").await.status,
        200
    );
    let engine = pid(&murmurd.engine().await);
    let reply = murmurd
        .change_settings(|s| s["engine"]["speed"] = json!(1.5))
        .await;
    assert_eq!(
        reply.json(),
        json!({"saved": true, "restarts_engine": false, "restarts_transcription_engine": false, "needs_murmur_restart": false})
    );
    let after = std::fs::read_to_string(&file).expect("config");
    assert_eq!(
        after,
        before.replace("id = \"custom\"\n", "id = \"custom\"\nspeed = 1.5\n"),
        "only the changed key was written"
    );
    assert_eq!(pid(&murmurd.engine().await), engine, "no restart");
}
