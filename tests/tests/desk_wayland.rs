//! Murmur at a Wayland desk: the shortcuts come from the desktop portal's GlobalShortcuts and
//! the words go out through its RemoteDesktop keyboard, as on GNOME and KDE, where an app can
//! neither grab keys nor type into others itself. No Wayland compositor runs here: a stand-in
//! portal on the desk's D-Bus session ([`murmur_tests::desk::Portal`]) grants what is asked,
//! reports presses as a compositor would and records the keys it is sent; the app (its window
//! on Xvfb) believes the session is Wayland (`XDG_SESSION_TYPE`; no `wtype` or `ydotool` is
//! installed). The microphone, the engines and the dictation are real, as in `desk.rs`.

use std::time::{Duration, Instant};

use murmur_tests::desk::{Desk, Portal, dictations, ready_app, speech_file};
use murmur_tests::listening::{Stage, wer};
use serde_json::json;

const SAID: &str = "Please send the quarterly report to Maria before Friday afternoon.";

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_string(), (*b).to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn on_wayland_the_portal_s_shortcut_dictates_its_keyboard_types_and_new_keys_are_asked_for_anew()
 {
    let _turn = murmur_tests::live::one_at_a_time().await;
    let stage = Stage::new().await;
    let mut desk = Desk::start();
    let portal = Portal::start(&desk.bus_address()).await;
    desk.set_env("XDG_SESSION_TYPE", "wayland");
    desk.set_env("GDK_BACKEND", "x11");
    desk.set_clipboard("kept on the clipboard");
    let app = ready_app(&stage, &desk, "").await;

    // Both shortcuts asked for, the configured keys as the preferred triggers.
    let first = portal
        .wait_for_binding(Duration::from_secs(30), |b| b.shortcuts.len() == 2)
        .await;
    assert_eq!(
        first.shortcuts,
        pairs(&[
            ("dictation", "CTRL+ALT+space"),
            ("read-aloud", "CTRL+ALT+r")
        ])
    );
    // The app has the answer; the settings say how it goes here.
    let said = "shortcuts through the desktop portal (GlobalShortcuts version 1): dictation = CTRL+ALT+space, read-aloud = CTRL+ALT+r";
    let until = Instant::now() + Duration::from_secs(10);
    let ways = loop {
        let desk_now = app
            .control(http::Method::GET, "/murmur/api/desk", None, None)
            .await
            .json();
        let ways = desk_now["ways"].as_str().unwrap_or_default().to_string();
        if app.stderr().contains(said) && ways.starts_with("Wayland: the shortcuts come") {
            break ways;
        }
        assert!(Instant::now() < until, "{ways}\n{}", app.stderr());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        ways.contains("the desktop portal's remote keyboard"),
        "{ways}"
    );

    // Held through the portal while the speech plays: the words, first one included, typed
    // through the portal's keyboard (asked for once); the clipboard left alone.
    let (file, secs) = speech_file(&app, &desk, SAID, "said.wav").await;
    let before = dictations(&app).await.len();
    let mut player = desk.say_into_microphone(&file);
    tokio::time::sleep(Duration::from_millis(700)).await;
    portal.press(&first, "dictation", true).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let listening = desk.tray_label();
    assert!(
        listening.as_deref().is_some_and(|l| l.contains('●')),
        "the tray does not show the dictation: {listening:?}"
    );
    tokio::time::sleep(Duration::from_secs_f64(secs - 0.35)).await;
    portal.press(&first, "dictation", false).await;
    let _ = player.wait();
    let until = Instant::now() + Duration::from_secs(60);
    let dictation = loop {
        let kept = dictations(&app).await;
        if kept.len() > before {
            break kept[0].clone();
        }
        assert!(Instant::now() < until, "no dictation:\n{}", app.stderr());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        dictation["outcome"],
        "typed",
        "{dictation}\n{}",
        app.stderr()
    );
    let text = dictation["text"].as_str().expect("text").to_string();
    let (typed, devices) = portal.typed();
    eprintln!("dictated through the portal: {text:?}, typed {typed:?}");
    assert!(wer(SAID, &text) <= 0.15, "{text:?}");
    assert_eq!(typed.trim(), text.trim());
    assert_eq!(devices, 1, "only the keyboard is asked for");
    assert_eq!(desk.clipboard("clipboard"), "kept on the clipboard");

    // New keys in the settings: the old session is closed and the new keys asked for.
    let current = app
        .control(http::Method::GET, "/murmur/api/settings", None, None)
        .await
        .json();
    let mut settings = current["settings"].clone();
    settings["dictation"]["shortcut"] = json!("Super+Shift+D");
    settings["read_aloud"]["enabled"] = json!(false);
    let saved = app
        .control(
            http::Method::PUT,
            "/murmur/api/settings",
            Some(&settings),
            None,
        )
        .await;
    assert_eq!(saved.status, 200, "{:?}", saved.body);
    let second = portal
        .wait_for_binding(Duration::from_secs(30), |b| b.session != first.session)
        .await;
    assert_eq!(second.shortcuts, pairs(&[("dictation", "SHIFT+LOGO+d")]));
    let until = Instant::now() + Duration::from_secs(10);
    while !portal.closed().contains(&first.session) {
        assert!(Instant::now() < until, "the old session stays open");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The old session's presses are no longer heard: holding its shortcut starts nothing.
    portal.press(&first, "dictation", true).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let label = desk.tray_label();
    portal.press(&first, "dictation", false).await;
    assert!(
        label.as_deref().is_none_or(|l| !l.contains('●')),
        "listening through a closed session: {label:?}"
    );
}
