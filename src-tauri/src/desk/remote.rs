//! Typing on Wayland through the desktop portal's RemoteDesktop keyboard, where no `wtype` or
//! `ydotool` is installed: one session, started at the first dictation (the desktop asks the
//! person once; Murmur does not ask again in this run if they say no) and kept, each
//! character sent as its keysym, pressed and released.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use zbus::zvariant::{ObjectPath, OwnedObjectPath, Value};

use super::portal::{self, Refused};

const INTERFACE: &str = "org.freedesktop.portal.RemoteDesktop";
/// `types`' keyboard bit.
const KEYBOARD: u32 = 1;

/// The started session (and the portal it is of), kept for the next dictation.
static SESSION: Mutex<Option<(zbus::Proxy<'static>, OwnedObjectPath)>> = Mutex::new(None);
/// The person said no: not asked again in this run.
static DENIED: AtomicBool = AtomicBool::new(false);

/// Type `text` into the focused app. Blocks (call it off the async threads).
pub fn type_text(text: &str) -> Result<(), String> {
    if DENIED.load(Ordering::Relaxed) {
        return Err("typing was not allowed".into());
    }
    zbus::block_on(async {
        let (desktop, session) = match started().await {
            Ok(started) => started,
            Err(Refused::Denied(code)) => {
                DENIED.store(true, Ordering::Relaxed);
                return Err(format!(
                    "typing was not allowed (the portal answered {code})"
                ));
            }
            Err(e) => return Err(e.to_string()),
        };
        let sent = send_keys(&desktop, &session, text).await;
        if sent.is_err() {
            // A session the desktop closed: start a new one next time.
            *lock() = None;
        }
        sent.map_err(|e| format!("the desktop portal stopped typing: {e}"))
    })
}

fn lock() -> std::sync::MutexGuard<'static, Option<(zbus::Proxy<'static>, OwnedObjectPath)>> {
    SESSION
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The kept session, or a new one: created, its keyboard selected, started.
async fn started() -> Result<(zbus::Proxy<'static>, OwnedObjectPath), Refused> {
    if let Some(kept) = lock().clone() {
        return Ok(kept);
    }
    let (connection, desktop) = portal::connect(INTERFACE).await?;
    let devices: u32 = desktop
        .get_property("AvailableDeviceTypes")
        .await
        .map_err(|e| Refused::Missing("RemoteDesktop", Box::new(e)))?;
    if devices & KEYBOARD == 0 {
        let none = zbus::Error::Failure("it offers no keyboard".into());
        return Err(Refused::Missing("RemoteDesktop", Box::new(none)));
    }
    let session = portal::create_session(&connection, &desktop).await?;
    let granted = async {
        portal::request(&connection, &desktop, "SelectDevices", |handle| {
            (
                ObjectPath::from(&session),
                HashMap::from([
                    ("handle_token", Value::from(handle.to_string())),
                    ("types", Value::from(KEYBOARD)),
                ]),
            )
        })
        .await?;
        portal::request(&connection, &desktop, "Start", |handle| {
            (
                ObjectPath::from(&session),
                "",
                HashMap::from([("handle_token", Value::from(handle.to_string()))]),
            )
        })
        .await
    };
    if let Err(e) = granted.await {
        portal::close(&connection, &session).await;
        return Err(e);
    }
    tracing::info!("dictation: typing through the desktop portal's RemoteDesktop keyboard");
    *lock() = Some((desktop.clone(), session.clone()));
    Ok((desktop, session))
}

async fn send_keys(
    desktop: &zbus::Proxy<'_>,
    session: &OwnedObjectPath,
    text: &str,
) -> zbus::Result<()> {
    for c in text.chars() {
        let keysym = keysym(c);
        for state in [1u32, 0] {
            let options: HashMap<&str, Value> = HashMap::new();
            desktop
                .call_method(
                    "NotifyKeyboardKeysym",
                    &(ObjectPath::from(session), options, keysym, state),
                )
                .await?;
        }
    }
    Ok(())
}

/// The X keysym that types `c`: Latin-1 is its own code, the rest of Unicode is offset by
/// 0x01000000; line ends and tabs are their keys.
fn keysym(c: char) -> i32 {
    let code = match c {
        '\n' => 0xff0d,
        '\t' => 0xff09,
        c if (' '..='~').contains(&c) || ('\u{a0}'..='\u{ff}').contains(&c) => c as u32,
        c => 0x0100_0000 + c as u32,
    };
    i32::try_from(code).unwrap_or(0x20)
}

#[cfg(test)]
mod tests {
    use super::keysym;

    #[test]
    fn characters_become_the_keysyms_that_type_them() {
        assert_eq!(keysym('a'), 0x61);
        assert_eq!(keysym('A'), 0x41);
        assert_eq!(keysym(' '), 0x20);
        assert_eq!(keysym('é'), 0xe9);
        assert_eq!(keysym('€'), 0x0100_20ac);
        assert_eq!(keysym('\n'), 0xff0d);
    }
}
