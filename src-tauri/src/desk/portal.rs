//! The desk's shortcuts on Wayland, through the desktop portal's GlobalShortcuts: an app
//! cannot grab keys there, so Murmur asks the desktop for two shortcuts — `dictation` and
//! `read-aloud`, the configured keys as the preferred triggers — and the desktop (which may
//! ask the person to confirm or change them) says when each is pressed (`Activated`) and let
//! go (`Deactivated`). A session per set of shortcuts: new settings close the old one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};

use futures_util::StreamExt;
use zbus::zvariant::{ObjectPath, OwnedObjectPath, OwnedValue, Value};

use super::{Desk, Input};

const DESTINATION: &str = "org.freedesktop.portal.Desktop";
const PATH: &str = "/org/freedesktop/portal/desktop";
const SHORTCUTS: &str = "org.freedesktop.portal.GlobalShortcuts";

/// A Wayland session, where the portal is the way to global shortcuts.
pub fn wanted() -> bool {
    cfg!(target_os = "linux")
        && std::env::var("XDG_SESSION_TYPE").is_ok_and(|t| t.eq_ignore_ascii_case("wayland"))
}

/// What Murmur asks the portal for.
pub struct Wanted {
    /// The dictation shortcut, as configured (`Ctrl+Alt+Space`).
    pub dictation: Option<String>,
    pub read_aloud: Option<String>,
}

/// Shortcuts held through the portal; dropping it closes the session.
pub struct Bound {
    connection: zbus::Connection,
    session: OwnedObjectPath,
    listener: tauri::async_runtime::JoinHandle<()>,
}

impl Drop for Bound {
    fn drop(&mut self) {
        self.listener.abort();
        let (connection, session) = (self.connection.clone(), self.session.clone());
        tauri::async_runtime::spawn(async move { close(&connection, &session).await });
    }
}

/// Close a portal session (its shortcuts or its keyboard go with it).
pub(super) async fn close(connection: &zbus::Connection, session: &OwnedObjectPath) {
    let closed = connection
        .call_method(
            Some(DESTINATION),
            session,
            Some("org.freedesktop.portal.Session"),
            "Close",
            &(),
        )
        .await;
    if let Err(e) = closed {
        tracing::debug!("desk: closing the portal session: {e}");
    }
}

/// Why the portal's shortcuts or keyboard could not be had.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// No portal offers the interface (named without its `org.freedesktop.portal.`).
    #[error("no desktop portal with {0}: {1}")]
    Missing(&'static str, Box<zbus::Error>),
    #[error("the desktop portal failed: {0}")]
    Failed(#[from] zbus::Error),
    #[error("the desktop portal answered in an unknown shape: {0}")]
    Shape(#[from] zbus::zvariant::Error),
    #[error("the shortcuts were not granted (the portal answered {0})")]
    Denied(u32),
}

/// Ask the portal for the shortcuts in `wanted` and post their presses to `desk` until the
/// answer is dropped.
pub async fn bind(desk: Desk, wanted: Wanted) -> Result<Bound, Refused> {
    let (connection, portal) = connect(SHORTCUTS).await?;
    let version: u32 = portal
        .get_property("version")
        .await
        .map_err(|e| Refused::Missing("GlobalShortcuts", Box::new(e)))?;
    let session = create_session(&connection, &portal).await?;
    // Listening starts before binding: a press right after the grant is not missed.
    let activated = portal.receive_signal("Activated").await?;
    let deactivated = portal.receive_signal("Deactivated").await?;
    let mut shortcuts = Vec::new();
    for (id, description, keys) in [
        ("dictation", "Dictate (hold to talk)", &wanted.dictation),
        ("read-aloud", "Read the selection aloud", &wanted.read_aloud),
    ] {
        let Some(keys) = keys else { continue };
        let mut details = HashMap::from([("description", Value::from(description))]);
        if let Ok(parsed) = murmur_core::shortcut::Shortcut::parse(keys) {
            details.insert("preferred_trigger", Value::from(parsed.xdg_trigger()));
        }
        shortcuts.push((id, details));
    }
    let bound = request(&connection, &portal, "BindShortcuts", |handle| {
        (
            ObjectPath::from(&session),
            shortcuts.clone(),
            "",
            HashMap::from([("handle_token", Value::from(handle.to_string()))]),
        )
    })
    .await;
    let granted = match bound {
        Ok(granted) => granted,
        Err(e) => {
            close(&connection, &session).await;
            return Err(e);
        }
    };
    tracing::info!(
        "desk: shortcuts through the desktop portal (GlobalShortcuts version {version}): {}",
        describe(&granted)
    );
    let listener =
        tauri::async_runtime::spawn(listen(desk, session.clone(), activated, deactivated));
    Ok(Bound {
        connection,
        session,
        listener,
    })
}

/// The session bus and the portal's `interface` on it.
pub(super) async fn connect(
    interface: &'static str,
) -> Result<(zbus::Connection, zbus::Proxy<'static>), Refused> {
    let name = interface.trim_start_matches("org.freedesktop.portal.");
    let connection = zbus::Connection::session()
        .await
        .map_err(|e| Refused::Missing(name, Box::new(e)))?;
    let portal = zbus::Proxy::new(&connection, DESTINATION, PATH, interface)
        .await
        .map_err(|e| Refused::Missing(name, Box::new(e)))?;
    Ok((connection, portal))
}

/// A new session of `portal`'s interface.
pub(super) async fn create_session(
    connection: &zbus::Connection,
    portal: &zbus::Proxy<'_>,
) -> Result<OwnedObjectPath, Refused> {
    let session_token = token();
    let created = request(connection, portal, "CreateSession", |handle| {
        (HashMap::from([
            ("handle_token", Value::from(handle.to_string())),
            ("session_handle_token", Value::from(session_token)),
        ]),)
    })
    .await?;
    session_path(&created)
}

/// Post each press and release of this session's shortcuts to the desk.
async fn listen(
    desk: Desk,
    session: OwnedObjectPath,
    activated: zbus::proxy::SignalStream<'static>,
    deactivated: zbus::proxy::SignalStream<'static>,
) {
    let presses = activated.map(|m| (true, m));
    let releases = deactivated.map(|m| (false, m));
    let mut both = futures_util::stream::select(presses, releases);
    while let Some((pressed, message)) = both.next().await {
        let Ok((from, id, _at, _options)) =
            message
                .body()
                .deserialize::<(OwnedObjectPath, String, u64, HashMap<String, OwnedValue>)>()
        else {
            continue;
        };
        if from != session {
            continue;
        }
        let input = match (id.as_str(), pressed) {
            ("dictation", true) => Input::DictateDown,
            ("dictation", false) => Input::DictateUp,
            ("read-aloud", true) => Input::ReadKey,
            _ => continue,
        };
        desk.send(input);
    }
}

/// Call `method` with the body `body(handle_token)` and wait for its `Request`'s answer.
pub(super) async fn request<B>(
    connection: &zbus::Connection,
    portal: &zbus::Proxy<'_>,
    method: &str,
    body: impl FnOnce(&str) -> B,
) -> Result<HashMap<String, OwnedValue>, Refused>
where
    B: serde::Serialize + zbus::zvariant::DynamicType,
{
    let handle = token();
    let sender = connection
        .unique_name()
        .map(|n| n.trim_start_matches(':').replace('.', "_"))
        .unwrap_or_default();
    let path = format!("{PATH}/request/{sender}/{handle}");
    let answer = zbus::Proxy::new(
        connection,
        DESTINATION,
        path,
        "org.freedesktop.portal.Request",
    )
    .await?;
    // Subscribed before the call: the answer may come at once.
    let mut responses = answer.receive_signal("Response").await?;
    portal.call_method(method, &body(&handle)).await?;
    let response = responses
        .next()
        .await
        .ok_or_else(|| zbus::Error::Failure(format!("{method}: no answer")))?;
    let (code, results): (u32, HashMap<String, OwnedValue>) = response.body().deserialize()?;
    if code != 0 {
        return Err(Refused::Denied(code));
    }
    Ok(results)
}

/// The session's object path, from CreateSession's answer (a string, by the spec; some
/// portals send an object path).
fn session_path(results: &HashMap<String, OwnedValue>) -> Result<OwnedObjectPath, Refused> {
    let value = results
        .get("session_handle")
        .ok_or_else(|| zbus::Error::Failure("CreateSession gave no session_handle".into()))?;
    if let Ok(text) = <&str>::try_from(&**value) {
        return Ok(OwnedObjectPath::try_from(text.to_string())?);
    }
    Ok(OwnedObjectPath::try_from(value.try_clone()?)?)
}

/// The granted shortcuts as the desktop words their keys: `dictation = Ctrl+Alt+Space, …`.
fn describe(granted: &HashMap<String, OwnedValue>) -> String {
    let Some(value) = granted.get("shortcuts") else {
        return "granted".into();
    };
    let Ok(list) = value
        .try_clone()
        .and_then(Vec::<(String, HashMap<String, OwnedValue>)>::try_from)
    else {
        return "granted".into();
    };
    list.iter()
        .map(|(id, details)| {
            let keys = details
                .get("trigger_description")
                .and_then(|v| <&str>::try_from(&**v).ok())
                .unwrap_or("keys the desktop chose");
            format!("{id} = {keys}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A token for a request or session handle: unique in this process.
fn token() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "murmur{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
