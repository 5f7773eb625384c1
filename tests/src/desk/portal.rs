//! A stand-in for the desktop portal on the desk's D-Bus session — GlobalShortcuts and
//! RemoteDesktop's keyboard — speaking the interfaces as xdg-desktop-portal does (a `Request`
//! object answering each call with a `Response` signal, sessions with `Close`): it grants
//! whatever is asked and records it, lets the test press and release a granted shortcut the
//! way a Wayland compositor reports one (`Activated`, `Deactivated`), and keeps every key
//! typed through a started RemoteDesktop session.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zbus::message::Header;
use zbus::object_server::SignalEmitter;
use zbus::zvariant::{ObjectPath, OwnedObjectPath, OwnedValue, Value};

const PATH: &str = "/org/freedesktop/portal/desktop";

/// One `BindShortcuts` as the portal received it.
#[derive(Debug, Clone)]
pub struct Binding {
    pub session: String,
    /// Each shortcut's id and preferred trigger.
    pub shortcuts: Vec<(String, String)>,
}

#[derive(Default)]
struct Record {
    bindings: Vec<Binding>,
    closed: Vec<String>,
    /// RemoteDesktop: the device types selected, the sessions started, each key sent.
    devices: u32,
    started: Vec<String>,
    keys: Vec<(i32, u32)>,
}

pub struct Portal {
    connection: zbus::Connection,
    record: Arc<Mutex<Record>>,
}

struct Shortcuts {
    record: Arc<Mutex<Record>>,
}

struct Session {
    path: String,
    record: Arc<Mutex<Record>>,
}

#[zbus::interface(name = "org.freedesktop.portal.Session")]
impl Session {
    async fn close(&self, #[zbus(object_server)] server: &zbus::ObjectServer) {
        lock(&self.record).closed.push(self.path.clone());
        let _ = server.remove::<Self, _>(self.path.as_str()).await;
    }
}

/// The caller's part of a request or session path (`:1.42` → `1_42`).
fn caller(header: &Header<'_>) -> String {
    header
        .sender()
        .map(|s| s.trim_start_matches(':').replace('.', "_"))
        .unwrap_or_default()
}

fn text(options: &HashMap<String, OwnedValue>, key: &str) -> String {
    options
        .get(key)
        .and_then(|v| <&str>::try_from(&**v).ok())
        .unwrap_or_default()
        .to_string()
}

/// Answer the call's request (its path from the caller and the call's `handle_token`) with
/// success and `results`, as the portal does; returns the request's path, the call's reply.
async fn answer(
    options: &HashMap<String, OwnedValue>,
    header: &Header<'_>,
    connection: &zbus::Connection,
    results: HashMap<&str, Value<'_>>,
) -> OwnedObjectPath {
    let request = format!(
        "{PATH}/request/{}/{}",
        caller(header),
        text(options, "handle_token")
    );
    let to = header.sender().map(|s| s.to_owned());
    let sent = connection
        .emit_signal(
            to,
            request.as_str(),
            "org.freedesktop.portal.Request",
            "Response",
            &(0u32, results),
        )
        .await;
    sent.expect("the Response signal");
    OwnedObjectPath::try_from(request).expect("a path")
}

/// CreateSession, as both interfaces answer it: a `Session` object, and its path in the
/// request's `Response`.
async fn open_session(
    record: &Arc<Mutex<Record>>,
    options: &HashMap<String, OwnedValue>,
    header: &Header<'_>,
    connection: &zbus::Connection,
) -> OwnedObjectPath {
    let session = format!(
        "{PATH}/session/{}/{}",
        caller(header),
        text(options, "session_handle_token")
    );
    let object = Session {
        path: session.clone(),
        record: record.clone(),
    };
    let _ = connection
        .object_server()
        .at(session.as_str(), object)
        .await;
    let results = HashMap::from([("session_handle", Value::from(session))]);
    answer(options, header, connection, results).await
}

/// The RemoteDesktop half: a keyboard, every key recorded.
struct RemoteDesktop {
    record: Arc<Mutex<Record>>,
}

#[zbus::interface(name = "org.freedesktop.portal.RemoteDesktop")]
impl RemoteDesktop {
    async fn create_session(
        &self,
        options: HashMap<String, OwnedValue>,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] connection: &zbus::Connection,
    ) -> OwnedObjectPath {
        open_session(&self.record, &options, &header, connection).await
    }

    async fn select_devices(
        &self,
        _session: OwnedObjectPath,
        options: HashMap<String, OwnedValue>,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] connection: &zbus::Connection,
    ) -> OwnedObjectPath {
        let types = options
            .get("types")
            .and_then(|v| u32::try_from(&**v).ok())
            .unwrap_or_default();
        lock(&self.record).devices = types;
        answer(&options, &header, connection, HashMap::new()).await
    }

    async fn start(
        &self,
        session: OwnedObjectPath,
        _parent_window: String,
        options: HashMap<String, OwnedValue>,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] connection: &zbus::Connection,
    ) -> OwnedObjectPath {
        lock(&self.record).started.push(session.to_string());
        answer(&options, &header, connection, HashMap::new()).await
    }

    fn notify_keyboard_keysym(
        &self,
        session: OwnedObjectPath,
        _options: HashMap<String, OwnedValue>,
        keysym: i32,
        state: u32,
    ) -> zbus::fdo::Result<()> {
        let mut record = lock(&self.record);
        if !record.started.contains(&session.to_string()) {
            return Err(zbus::fdo::Error::AccessDenied("not started".into()));
        }
        record.keys.push((keysym, state));
        Ok(())
    }

    #[zbus(property, name = "AvailableDeviceTypes")]
    fn available_device_types(&self) -> u32 {
        // Keyboard and pointer, as GNOME offers.
        3
    }

    #[zbus(property, name = "version")]
    fn version(&self) -> u32 {
        2
    }
}

#[zbus::interface(name = "org.freedesktop.portal.GlobalShortcuts")]
impl Shortcuts {
    async fn create_session(
        &self,
        options: HashMap<String, OwnedValue>,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] connection: &zbus::Connection,
    ) -> OwnedObjectPath {
        open_session(&self.record, &options, &header, connection).await
    }

    async fn bind_shortcuts(
        &self,
        session: OwnedObjectPath,
        shortcuts: Vec<(String, HashMap<String, OwnedValue>)>,
        _parent_window: String,
        options: HashMap<String, OwnedValue>,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] connection: &zbus::Connection,
    ) -> OwnedObjectPath {
        let asked: Vec<(String, String)> = shortcuts
            .iter()
            .map(|(id, details)| (id.clone(), text(details, "preferred_trigger")))
            .collect();
        lock(&self.record).bindings.push(Binding {
            session: session.to_string(),
            shortcuts: asked.clone(),
        });
        let granted: Vec<(String, HashMap<String, Value>)> = asked
            .into_iter()
            .map(|(id, trigger)| {
                let details =
                    HashMap::from([("trigger_description".to_string(), Value::from(trigger))]);
                (id, details)
            })
            .collect();
        let results = HashMap::from([("shortcuts", Value::from(granted))]);
        answer(&options, &header, connection, results).await
    }

    #[zbus(property, name = "version")]
    fn version(&self) -> u32 {
        1
    }

    #[zbus(signal)]
    async fn activated(
        emitter: &SignalEmitter<'_>,
        session: ObjectPath<'_>,
        id: &str,
        timestamp: u64,
        options: HashMap<&str, Value<'_>>,
    ) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn deactivated(
        emitter: &SignalEmitter<'_>,
        session: ObjectPath<'_>,
        id: &str,
        timestamp: u64,
        options: HashMap<&str, Value<'_>>,
    ) -> zbus::Result<()>;
}

fn lock(record: &Mutex<Record>) -> std::sync::MutexGuard<'_, Record> {
    record
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Portal {
    /// Serve the portal on the bus at `address`, under its well-known name.
    pub async fn start(address: &str) -> Self {
        let record = Arc::new(Mutex::new(Record::default()));
        let connection = zbus::connection::Builder::address(address)
            .expect("the bus address")
            .name("org.freedesktop.portal.Desktop")
            .expect("the portal's name")
            .serve_at(
                PATH,
                Shortcuts {
                    record: record.clone(),
                },
            )
            .expect("the portal object")
            .serve_at(
                PATH,
                RemoteDesktop {
                    record: record.clone(),
                },
            )
            .expect("the portal's RemoteDesktop")
            .build()
            .await
            .expect("the desk's session bus");
        Self { connection, record }
    }

    /// The bindings so far, oldest first.
    pub fn bindings(&self) -> Vec<Binding> {
        lock(&self.record).bindings.clone()
    }

    /// What RemoteDesktop's keyboard typed: each pressed keysym as its character, and the
    /// device types selected. Every press must be released.
    pub fn typed(&self) -> (String, u32) {
        let record = lock(&self.record);
        let mut text = String::new();
        let mut down = 0i32;
        for &(keysym, state) in &record.keys {
            if state == 0 {
                down -= 1;
                continue;
            }
            down += 1;
            let code = u32::try_from(keysym).unwrap_or_default();
            let c = match code {
                0xff0d => Some('\n'),
                0xff09 => Some('\t'),
                c if c >= 0x0100_0000 => char::from_u32(c - 0x0100_0000),
                c => char::from_u32(c),
            };
            text.extend(c);
        }
        assert_eq!(down, 0, "a key left pressed: {:?}", record.keys);
        (text, record.devices)
    }

    /// The sessions closed so far.
    pub fn closed(&self) -> Vec<String> {
        lock(&self.record).closed.clone()
    }

    /// Wait up to `within` for a binding `ok` accepts.
    pub async fn wait_for_binding(
        &self,
        within: Duration,
        ok: impl Fn(&Binding) -> bool,
    ) -> Binding {
        let until = Instant::now() + within;
        loop {
            if let Some(found) = self.bindings().into_iter().rev().find(|b| ok(b)) {
                return found;
            }
            assert!(
                Instant::now() < until,
                "no such binding: {:?}",
                self.bindings()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The compositor's report that shortcut `id` of `binding` was pressed (`down`) or let go.
    pub async fn press(&self, binding: &Binding, id: &str, down: bool) {
        let emitter = SignalEmitter::new(&self.connection, PATH).expect("emitter");
        let session = ObjectPath::try_from(binding.session.as_str()).expect("session path");
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let sent = if down {
            Shortcuts::activated(&emitter, session, id, at, HashMap::new()).await
        } else {
            Shortcuts::deactivated(&emitter, session, id, at, HashMap::new()).await
        };
        sent.expect("the signal");
    }
}
