//! What a test does at the desk: start the app ready to listen, make speech to say, dictate
//! with the shortcut held, find and focus windows.

use std::time::{Duration, Instant};

use super::{Desk, wait, wav};
use crate::Murmurd;
use crate::listening::{Stage, speak};
use crate::supervised::{ready, transcription_of};

/// The app, its speech engine ready and its transcription engine started.
pub async fn ready_app(stage: &Stage, desk: &Desk, dictation: &str) -> Murmurd {
    let app = desk.app(&stage.config(&format!("\n[dictation]\n{dictation}")));
    ready(&app, Duration::from_secs(180)).await;
    app.control_post("/murmur/api/engines/transcription/start")
        .await;
    app.wait_for_engine("transcription ready", Duration::from_secs(180), |s| {
        transcription_of(s).state == murmur_core::status::State::Ready
    })
    .await;
    app
}

/// `text` spoken by Murmur, with a second of silence before (a stream's first moments can be
/// lost) and a little after, as a WAV file in the desk's folder; and its length in seconds.
pub async fn speech_file(
    app: &Murmurd,
    desk: &Desk,
    text: &str,
    name: &str,
) -> (std::path::PathBuf, f64) {
    let pcm = speak(app, text, "pcm").await;
    let mut samples = vec![0i16; 24_000];
    samples.extend(
        pcm.chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]])),
    );
    let secs = (samples.len() - 24_000) as f64 / 24_000.0;
    samples.extend(vec![0i16; 7_200]);
    let path = desk.dir.path().join(name);
    std::fs::write(&path, wav(&samples, 24_000)).expect("write speech");
    (path, secs)
}

/// The dictations the app kept, newest first.
pub async fn dictations(app: &Murmurd) -> Vec<serde_json::Value> {
    let reply = app
        .control(http::Method::GET, "/murmur/api/dictations", None, None)
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.json()["dictations"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Say `file` into the microphone with the dictation shortcut held from `press_after` into
/// the playback until it has ended; answers the new dictation.
pub async fn dictate(
    app: &Murmurd,
    desk: &Desk,
    file: &std::path::Path,
    secs: f64,
    press_after: f64,
) -> serde_json::Value {
    let before = dictations(app).await.len();
    let mut player = desk.say_into_microphone(file);
    tokio::time::sleep(Duration::from_secs_f64(press_after)).await;
    desk.xdotool(&["keydown", "ctrl+alt+space"]);
    tokio::time::sleep(Duration::from_secs_f64(1.0 + secs - press_after + 0.15)).await;
    desk.xdotool(&["keyup", "space", "alt", "ctrl"]);
    let _ = player.wait();
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let kept = dictations(app).await;
        if kept.len() > before {
            return kept[0].clone();
        }
        assert!(
            Instant::now() < until,
            "no dictation was kept:\n{}",
            app.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A window titled `title` from `command`, focused.
pub fn focused_window(desk: &mut Desk, title: &str, mut command: std::process::Command) -> String {
    desk.keep(command.spawn().expect("the window's program"));
    let mut id = String::new();
    wait(title, Duration::from_secs(20), || {
        let out = desk
            .command("xdotool")
            .args(["search", "--sync", "--onlyvisible", "--name", title])
            .output()
            .expect("xdotool");
        id = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .to_string();
        !id.is_empty()
    });
    desk.xdotool(&["windowactivate", "--sync", &id]);
    id
}

/// An xterm titled `title` running `shell`.
pub fn xterm(desk: &Desk, title: &str, shell: &str) -> std::process::Command {
    let mut command = desk.command("xterm");
    command.args([
        "-title",
        title,
        "-geometry",
        "100x10+50+50",
        "-e",
        "sh",
        "-c",
        shell,
    ]);
    command
}

/// A focused xterm titled `title` whose typed lines go to a file; the file's path.
pub fn typing_target(desk: &mut Desk, title: &str) -> std::path::PathBuf {
    let typed = desk.dir.path().join(format!("{title}.txt"));
    let terminal = xterm(desk, title, &format!("cat > {}", typed.display()));
    focused_window(desk, title, terminal);
    typed
}
