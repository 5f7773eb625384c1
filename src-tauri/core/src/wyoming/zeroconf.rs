//! Announcing the Wyoming server on the LAN (`_wyoming._tcp`, as wyoming-piper and
//! wyoming-faster-whisper do), so Home Assistant discovers it. Only when it listens beyond
//! loopback: a loopback server has no one on the LAN to tell.

use std::net::{IpAddr, SocketAddr};

use mdns_sd::{IfKind, ServiceDaemon, ServiceInfo};

/// The DNS-SD service type Home Assistant browses for.
pub const SERVICE_TYPE: &str = "_wyoming._tcp.local.";

/// Set (to anything) for tests: announce on the loopback interfaces only, whatever the
/// address, so a test can see the announcement without traffic beyond loopback.
pub const LOOPBACK_ONLY_ENV: &str = "MURMUR_ZEROCONF_LOOPBACK_ONLY";

/// The announcement; withdrawn when dropped.
pub struct Announced {
    daemon: ServiceDaemon,
    fullname: String,
}

impl Drop for Announced {
    fn drop(&mut self) {
        let _ = self.daemon.unregister(&self.fullname);
        let _ = self.daemon.shutdown();
    }
}

/// Whether a server at `addr` is announced.
pub fn announces(addr: SocketAddr) -> bool {
    !addr.ip().is_loopback() || std::env::var_os(LOOPBACK_ONLY_ENV).is_some()
}

/// Announce the server at `addr`, when it is reachable beyond loopback; failures are logged
/// (the server works without discovery: Home Assistant can be given host and port).
pub fn announce(addr: SocketAddr) -> Option<Announced> {
    if !announces(addr) {
        return None;
    }
    let loopback_only = std::env::var_os(LOOPBACK_ONLY_ENV).is_some();
    let announced = (|| -> Result<Announced, mdns_sd::Error> {
        let daemon = ServiceDaemon::new()?;
        if loopback_only {
            daemon.disable_interface(IfKind::All)?;
            daemon.enable_interface(vec![IfKind::LoopbackV4])?;
        }
        let host = hostname();
        let instance = format!("murmur-{host}");
        let ip: Vec<IpAddr> = match addr.ip() {
            ip if ip.is_unspecified() => Vec::new(),
            ip => vec![ip],
        };
        let mut info = ServiceInfo::new(
            SERVICE_TYPE,
            &instance,
            &format!("{host}.local."),
            &ip[..],
            addr.port(),
            &[("program", "murmur")][..],
        )?;
        if ip.is_empty() || loopback_only {
            info = info.enable_addr_auto();
        }
        let fullname = info.get_fullname().to_string();
        daemon.register(info)?;
        Ok(Announced { daemon, fullname })
    })();
    match announced {
        Ok(announced) => {
            tracing::info!(%addr, "wyoming: announced on the LAN as {}", announced.fullname);
            Some(announced)
        }
        Err(e) => {
            tracing::warn!("wyoming: cannot announce on the LAN (zeroconf): {e}");
            None
        }
    }
}

/// This machine's name, for the announcement (`murmur-<name>`).
fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
        .map(|name| name.trim().trim_end_matches(".local").to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "host".into())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_server_beyond_loopback_is_announced() {
        if std::env::var_os(LOOPBACK_ONLY_ENV).is_some() {
            return;
        }
        assert!(!announces("127.0.0.1:10300".parse().expect("addr")));
        assert!(!announces("[::1]:10300".parse().expect("addr")));
        assert!(announces("0.0.0.0:10300".parse().expect("addr")));
        assert!(announces("192.168.1.20:10300".parse().expect("addr")));
        assert!(
            hostname()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        );
    }
}
