//! Murmur at the desk, tested at a real one ([`murmur_tests::desk`]): the desktop app under
//! Xvfb with openbox, PulseAudio's null sinks as microphone and speakers, Piper speaking and
//! Whisper's `tiny.en` listening. xdotool holds the shortcuts as a person would; the words land
//! in real X11 windows (xterm, a GTK entry); what Murmur reads aloud is recorded off the
//! speakers and transcribed back.

use std::time::{Duration, Instant};

use murmur_tests::desk::{
    Desk, dictate, dictations, focused_window, ready_app, speech_file, typing_target, wait, wav,
    xterm,
};
use murmur_tests::listening::{Stage, wer};

const SAID: &str = "Please send the quarterly report to Maria before Friday afternoon.";

#[tokio::test(flavor = "multi_thread")]
async fn words_said_while_the_shortcut_is_held_are_typed_into_the_focused_terminal() {
    let _turn = murmur_tests::live::one_at_a_time().await;
    let stage = Stage::new().await;
    let mut desk = Desk::start();
    let app = ready_app(&stage, &desk, "insert = \"type\"\n").await;
    let (file, secs) = speech_file(&app, &desk, SAID, "said.wav").await;
    let typed = typing_target(&mut desk, "dictation-target");
    desk.set_clipboard("kept on the clipboard");

    // The key goes down a moment after the speech has begun: the pre-roll keeps its start.
    // While it is held, the tray shows that Murmur listens, and the words so far.
    let labels = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let watching = {
        let (labels, desk_env) = (labels.clone(), desk.clone_env());
        let owner = desk_env.tray_owner().expect("the tray icon on the bus");
        std::thread::spawn(move || {
            let until = Instant::now() + Duration::from_secs(8);
            while Instant::now() < until {
                if let Some(label) = desk_env.label_of(&owner) {
                    let mut labels = labels.lock().expect("labels");
                    if labels.last() != Some(&label) {
                        labels.push(label);
                    }
                }
                std::thread::sleep(Duration::from_millis(150));
            }
        })
    };
    let dictation = dictate(&app, &desk, &file, secs, 1.15).await;
    watching.join().expect("watcher");
    let labels = labels.lock().expect("labels").clone();
    eprintln!("the tray while listening: {labels:?}");
    let listening: Vec<_> = labels.iter().filter(|l| l.starts_with('●')).collect();
    assert!(
        !listening.is_empty(),
        "the tray never showed the dictation: {labels:?}"
    );
    assert!(
        listening
            .iter()
            .any(|l| l.to_lowercase().contains("please send")),
        "no words while the key was held: {labels:?}"
    );
    assert!(
        !labels.last().is_some_and(|l| l.starts_with('●')),
        "{labels:?}"
    );
    eprintln!("dictation: {dictation}");
    assert_eq!(dictation["outcome"], "typed", "{dictation}");
    desk.xdotool(&["key", "Return"]);
    wait("the typed line", Duration::from_secs(10), || {
        std::fs::read_to_string(&typed).is_ok_and(|t| t.ends_with('\n'))
    });
    let line = std::fs::read_to_string(&typed).expect("typed");
    let error = wer(SAID, &line);
    eprintln!("typed into xterm: {line:?} (WER {error:.2})");
    assert!(error <= 0.15, "{line:?}");
    assert!(
        line.to_lowercase().starts_with("please"),
        "the first word was lost: {line:?}"
    );
    assert_eq!(desk.clipboard("clipboard"), "kept on the clipboard");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dictation_is_pasted_into_a_gtk_entry_and_the_clipboard_put_back() {
    let _turn = murmur_tests::live::one_at_a_time().await;
    let stage = Stage::new().await;
    let mut desk = Desk::start();
    let app = ready_app(&stage, &desk, "insert = \"paste\"\n").await;
    let said = "The meeting moved to Thursday afternoon in the small room.";
    let (file, secs) = speech_file(&app, &desk, said, "said.wav").await;
    desk.set_clipboard("kept on the clipboard");
    // zenity's entry is GTK's: it takes Ctrl+V, and prints what it holds when Enter is pressed.
    let mut zenity = desk.command("zenity");
    zenity
        .args([
            "--entry",
            "--title",
            "paste-target",
            "--text",
            "Dictate here",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let entry = zenity.spawn().expect("zenity");
    let mut id = String::new();
    wait("the entry", Duration::from_secs(20), || {
        id = desk.xdotool_maybe(&["search", "--onlyvisible", "--name", "paste-target"]);
        !id.is_empty()
    });
    desk.xdotool(&["windowactivate", "--sync", &id]);

    let dictation = dictate(&app, &desk, &file, secs, 0.7).await;
    assert_eq!(dictation["outcome"], "pasted", "{dictation}");
    desk.xdotool(&["key", "Return"]);
    let out = tokio::task::spawn_blocking(move || entry.wait_with_output())
        .await
        .expect("join")
        .expect("zenity's answer");
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let error = wer(said, &text);
    eprintln!("pasted into the entry: {text:?} (WER {error:.2})");
    assert!(error <= 0.15, "{text:?}");
    assert_eq!(desk.clipboard("clipboard"), "kept on the clipboard");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_no_window_to_take_it_a_dictation_waits_on_the_clipboard_and_in_the_history() {
    let _turn = murmur_tests::live::one_at_a_time().await;
    let stage = Stage::new().await;
    let desk = Desk::start();
    let app = ready_app(&stage, &desk, "").await;
    let (file, secs) = speech_file(&app, &desk, SAID, "said.wav").await;

    let dictation = dictate(&app, &desk, &file, secs, 0.7).await;
    assert_eq!(dictation["outcome"], "on_clipboard", "{dictation}");
    let text = dictation["text"].as_str().expect("text").to_string();
    assert!(wer(SAID, &text) <= 0.15, "{text:?}");
    assert_eq!(desk.clipboard("clipboard"), text);
    assert!(
        app.stderr().contains("Your dictation is on the clipboard"),
        "no notification was sent"
    );
    // Activity counts it like a request.
    let metrics = app
        .control(http::Method::GET, "/murmur/api/metrics", None, None)
        .await
        .json();
    let recent = metrics["recent"].as_array().expect("recent");
    assert!(
        recent
            .iter()
            .any(|r| r["path"] == "dictation" && r["audio_secs"].as_f64() > Some(3.0)),
        "{metrics:#}"
    );

    // The history is the user's to clear.
    let id = dictation["id"].as_u64().expect("id");
    let path = format!("/murmur/api/dictations/{id}");
    let gone = app.control(http::Method::DELETE, &path, None, None).await;
    assert_eq!(gone.status, 204);
    assert!(dictations(&app).await.is_empty());
    let again = app.control(http::Method::DELETE, &path, None, None).await;
    assert_eq!(again.status, 404);
    assert_eq!(again.error_code(), "not_found");
}

/// Select the first line of the window `id` as a person would (a triple click).
fn select_first_line(desk: &Desk, id: &str) {
    desk.xdotool(&["mousemove", "--window", id, "30", "8"]);
    desk.xdotool(&["click", "--repeat", "3", "--delay", "80", "1"]);
}

/// Record the speakers until they have been quiet for `quiet` after sounding (at most
/// `longest`).
fn until_quiet(speakers: &mut murmur_tests::desk::Speakers, quiet: Duration, longest: Duration) {
    let until = Instant::now() + longest;
    while Instant::now() < until {
        speakers.collect(Duration::from_millis(200));
        if speakers
            .last_sound()
            .is_some_and(|at| at.elapsed() >= quiet)
        {
            return;
        }
    }
    panic!("the speakers did not fall quiet within {longest:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_selection_is_read_aloud_and_the_same_shortcut_stops_it_at_once() {
    let _turn = murmur_tests::live::one_at_a_time().await;
    let stage = Stage::new().await;
    let mut desk = Desk::start();
    let app = ready_app(&stage, &desk, "").await;
    // Markdown, as an agent writes it: the marks and the address are not read out.
    let written = "The **weather** today is calm and bright, see [the forecast](https://example.com/w?d=1) for more.";
    let heard_as = "The weather today is calm and bright, see the forecast for more.";
    let terminal = xterm(
        &desk,
        "read-source",
        &format!("printf '%s\\n' '{written}'; sleep 600"),
    );
    let id = focused_window(&mut desk, "read-source", terminal);
    select_first_line(&desk, &id);
    wait("the selection", Duration::from_secs(5), || {
        desk.clipboard("primary").trim() == written
    });

    let mut speakers = desk.listen_to_speakers();
    speakers.collect(Duration::from_millis(300));
    let pressed = Instant::now();
    desk.xdotool(&["key", "ctrl+alt+r"]);
    until_quiet(
        &mut speakers,
        Duration::from_millis(1500),
        Duration::from_secs(60),
    );
    let first = speakers.first_sound().expect("sound") - pressed;
    let samples = speakers.samples();
    let reply = murmur_tests::listening::transcribe(
        &app,
        "/v1/audio/transcriptions",
        &[("model", "whisper-1")],
        "speakers.wav",
        &wav(&samples, 16_000),
    )
    .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let text = reply.json()["text"].as_str().expect("text").to_string();
    let error = wer(heard_as, &text);
    eprintln!(
        "read aloud, first sound {first:?} after the key; heard back {text:?} (WER {error:.2})"
    );
    assert!(error <= 0.15, "{text:?}");
    drop(speakers);

    // A long text, stopped by the same shortcut while it is read.
    let long = murmur_tests::listening::PARAGRAPH.replace('\n', " ");
    let terminal = xterm(
        &desk,
        "long-source",
        &format!("printf '%s\\n' '{long}'; sleep 600"),
    );
    let id = focused_window(&mut desk, "long-source", terminal);
    desk.xdotool(&["windowsize", &id, "2400", "200"]);
    select_first_line(&desk, &id);
    let mut speakers = desk.listen_to_speakers();
    desk.xdotool(&["key", "ctrl+alt+r"]);
    let until = Instant::now() + Duration::from_secs(60);
    while speakers
        .first_sound()
        .is_none_or(|at| at.elapsed() < Duration::from_secs(2))
    {
        assert!(Instant::now() < until, "nothing was read");
        speakers.collect(Duration::from_millis(100));
    }
    let stop = Instant::now();
    desk.xdotool(&["key", "ctrl+alt+r"]);
    speakers.collect(Duration::from_secs(2));
    let last = speakers.last_sound().expect("sound");
    let after = last.saturating_duration_since(stop);
    eprintln!("reading stopped {after:?} after the key");
    assert!(after <= Duration::from_millis(200), "{after:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn in_toggle_mode_a_pause_ends_the_dictation_and_esc_cancels_one_without_a_trace() {
    let _turn = murmur_tests::live::one_at_a_time().await;
    let stage = Stage::new().await;
    let mut desk = Desk::start();
    let app = ready_app(&stage, &desk, "mode = \"toggle\"\ninsert = \"type\"\n").await;
    let (file, secs) = speech_file(&app, &desk, SAID, "said.wav").await;
    let typed = typing_target(&mut desk, "toggle-target");

    // Esc while dictating: nothing is typed or kept.
    let mut player = desk.say_into_microphone(&file);
    tokio::time::sleep(Duration::from_millis(700)).await;
    desk.xdotool(&["key", "ctrl+alt+space"]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    desk.xdotool(&["key", "Escape"]);
    let _ = player.wait();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        dictations(&app).await.is_empty(),
        "a cancelled dictation was kept"
    );
    assert!(
        app.stderr().contains("dictation cancelled"),
        "{}",
        app.stderr()
    );

    // One press starts it; the pause after the sentence ends it, with no second press.
    let before = Instant::now();
    let mut player = desk.say_into_microphone(&file);
    tokio::time::sleep(Duration::from_millis(700)).await;
    desk.xdotool(&["key", "ctrl+alt+space"]);
    let _ = player.wait();
    let until = Instant::now() + Duration::from_secs(30);
    let kept = loop {
        let kept = dictations(&app).await;
        if let Some(first) = kept.first() {
            break first.clone();
        }
        assert!(
            Instant::now() < until,
            "the pause did not end the dictation"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!(
        "toggle: ended by the pause {:.1} s after the speech began: {kept}",
        before.elapsed().as_secs_f64() - 1.0
    );
    assert!(before.elapsed().as_secs_f64() < 1.0 + secs + 4.0);
    desk.xdotool(&["key", "Return"]);
    wait("the typed line", Duration::from_secs(10), || {
        std::fs::read_to_string(&typed).is_ok_and(|t| t.ends_with('\n'))
    });
    let line = std::fs::read_to_string(&typed).expect("typed");
    assert!(wer(SAID, &line) <= 0.15, "{line:?}");
}
