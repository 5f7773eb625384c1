//! A stand-in for the desktop portal's GlobalShortcuts on the desk's D-Bus session, speaking
//! the interface as xdg-desktop-portal does (a `Request` object answering each call with a
//! `Response` signal, sessions with `Close`): it grants whatever is asked, records it, and
//! lets the test press and release a granted shortcut the way a Wayland compositor reports
//! one (`Activated`, `Deactivated`).

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

/// Answer the request at `path` with success and `results`, as the portal does.
async fn respond(
    connection: &zbus::Connection,
    header: &Header<'_>,
    path: &str,
    results: HashMap<&str, Value<'_>>,
) {
    let to = header.sender().map(|s| s.to_owned());
    let sent = connection
        .emit_signal(
            to,
            path,
            "org.freedesktop.portal.Request",
            "Response",
            &(0u32, results),
        )
        .await;
    sent.expect("the Response signal");
}

#[zbus::interface(name = "org.freedesktop.portal.GlobalShortcuts")]
impl Shortcuts {
    async fn create_session(
        &self,
        options: HashMap<String, OwnedValue>,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] connection: &zbus::Connection,
    ) -> OwnedObjectPath {
        let who = caller(&header);
        let request = format!("{PATH}/request/{who}/{}", text(&options, "handle_token"));
        let session = format!(
            "{PATH}/session/{who}/{}",
            text(&options, "session_handle_token")
        );
        let object = Session {
            path: session.clone(),
            record: self.record.clone(),
        };
        let _ = connection
            .object_server()
            .at(session.as_str(), object)
            .await;
        let results = HashMap::from([("session_handle", Value::from(session))]);
        respond(connection, &header, &request, results).await;
        OwnedObjectPath::try_from(request).expect("a path")
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
        let request = format!(
            "{PATH}/request/{}/{}",
            caller(&header),
            text(&options, "handle_token")
        );
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
        respond(connection, &header, &request, results).await;
        OwnedObjectPath::try_from(request).expect("a path")
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
            .build()
            .await
            .expect("the desk's session bus");
        Self { connection, record }
    }

    /// The bindings so far, oldest first.
    pub fn bindings(&self) -> Vec<Binding> {
        lock(&self.record).bindings.clone()
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
