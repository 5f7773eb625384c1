//! Home Assistant's own protocol: Murmur as a Wyoming speech and transcription server.
//!
//! A second front door onto the same engines (never a second set of them): synthesis goes
//! through the proxy's speech path and transcription through its listening path, so engines
//! start on first use with the same single-flight start, share the same gates, unload when
//! idle and are restarted after crashes exactly as for HTTP. One connection is one session of
//! events ([`message`], framed by [`event`]; the session's state is [`session`]'s `Doing`):
//! `describe` → `info`; `synthesize` → `audio-start`, `audio-chunk`… as the
//! engine produces them, `audio-stop`; streaming synthesis (`synthesize-start`,
//! `synthesize-chunk`…, `synthesize-stop`) → audio per sentence as sentences complete, then
//! `synthesize-stopped`; `transcribe` + `audio-start`/`audio-chunk`…/`audio-stop` at any rate,
//! width and channel count → `transcript`. A request nothing can serve is an `error` event and
//! the connection stays usable; garbage, an overlong line or a lying `payload_length` closes
//! that connection only. Wyoming has no authentication: only loopback clients, or the
//! networks `[wyoming] allowed_networks` lists, are served.

mod audio;
pub mod event;
mod hear;
mod info;
pub mod message;
mod session;
mod speak;
mod zeroconf;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::config::{Network, WyomingSettings};
use crate::proxy::ProxyState;
use session::Session;

/// Serve Wyoming on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: ProxyState,
    settings: WyomingSettings,
    data_dir: PathBuf,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let networks: Arc<Vec<Network>> = Arc::new(
        settings
            .allowed_networks
            .iter()
            .filter_map(|n| Network::parse(n))
            .collect(),
    );
    let mut acceptor = crate::accept::Acceptor::new("wyoming", settings.max_connections as usize);
    let refused: crate::accept::SharedThrottle = Arc::new(std::sync::Mutex::new(
        crate::accept::Throttle::new(REFUSALS_LOGGED_EVERY),
    ));
    let data_dir = Arc::new(data_dir);
    // Announced on the LAN only when it listens beyond loopback (kept until this returns).
    let _announced = match listener.local_addr() {
        Ok(addr) => zeroconf::announce(addr),
        Err(_) => None,
    };
    tokio::pin!(shutdown);
    loop {
        // A slot first, then the connection: at the cap, clients wait in the kernel's queue.
        let (stream, peer, slot) = tokio::select! {
            () = &mut shutdown => return,
            accepted = acceptor.accept(&listener) => accepted,
        };
        if !allowed(&networks, peer) {
            if let Some(more) = crate::accept::allow(&refused) {
                tracing::warn!(%peer, also_refused = more, "wyoming: refused a connection from outside the allowed networks");
            }
            continue;
        }
        let (state, data_dir, refused) = (state.clone(), data_dir.clone(), refused.clone());
        tokio::spawn(async move {
            tracing::debug!(%peer, "wyoming: connected");
            let outcome = Session::new(state, data_dir, peer, refused)
                .run(stream)
                .await;
            match outcome {
                Ok(()) => tracing::debug!(%peer, "wyoming: closed"),
                Err(e) => tracing::info!(%peer, "wyoming: connection closed: {e}"),
            }
            drop(slot);
        });
    }
}

/// A client that sends nothing for this long between events is disconnected.
pub(crate) const IDLE: std::time::Duration = std::time::Duration::from_secs(60);
/// An event, once its first byte is in, must arrive whole within this.
pub(crate) const READ: std::time::Duration = std::time::Duration::from_secs(10);
/// Refusals a client can repeat at will are logged at most once in this.
const REFUSALS_LOGGED_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Loopback only when no networks are listed; otherwise the listed networks only.
fn allowed(networks: &[Network], peer: SocketAddr) -> bool {
    let ip = match peer.ip() {
        std::net::IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(std::net::IpAddr::V6(v6), std::net::IpAddr::V4),
        ip => ip,
    };
    if networks.is_empty() {
        ip.is_loopback()
    } else {
        networks.iter().any(|n| n.contains(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_networks_or_loopback_connect() {
        let peer = |ip: &str| SocketAddr::new(ip.parse().expect("ip"), 5000);
        assert!(allowed(&[], peer("127.0.0.1")));
        assert!(allowed(&[], peer("::1")));
        assert!(!allowed(&[], peer("192.168.1.5")));
        let lan = [Network::parse("192.168.1.0/24").expect("net")];
        assert!(allowed(&lan, peer("192.168.1.5")));
        assert!(!allowed(&lan, peer("127.0.0.1")));
        let one = [Network::parse("127.0.0.1/32").expect("net")];
        assert!(!allowed(&one, peer("127.0.0.2")));
    }
}
