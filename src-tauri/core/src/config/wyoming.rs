//! `[wyoming]`: Home Assistant's protocol, served beside the HTTP API on the same engines.

use serde::{Deserialize, Serialize};

/// `[wyoming]`: a Wyoming server (TCP, JSON lines with binary payloads) for speech and
/// transcription. Wyoming has no authentication: it is off by default, binds loopback, and
/// beyond loopback takes only the networks listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WyomingSettings {
    pub enabled: bool,
    pub host: String,
    /// 10300, where Home Assistant looks for a Wyoming speech-to-text server; 0 picks one.
    pub port: u16,
    /// Client networks that may connect (`192.168.1.0/24`); empty: loopback only.
    pub allowed_networks: Vec<String>,
    /// Connections served at once; more wait for one to close.
    pub max_connections: u32,
}

impl Default for WyomingSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            host: "127.0.0.1".into(),
            port: 10300,
            allowed_networks: Vec::new(),
            max_connections: 16,
        }
    }
}

/// A network in CIDR notation: `192.168.1.0/24`, `::1/128`, or an address alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    address: std::net::IpAddr,
    prefix: u8,
}

impl Network {
    pub fn parse(text: &str) -> Option<Self> {
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix.parse::<u8>().ok()?)),
            None => (text.trim(), None),
        };
        let address: std::net::IpAddr = address.parse().ok()?;
        let bits = if address.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(bits);
        (prefix <= bits).then_some(Self { address, prefix })
    }

    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        let ip = match (self.address, ip) {
            (std::net::IpAddr::V4(_), std::net::IpAddr::V6(v6)) => {
                v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4)
            }
            _ => ip,
        };
        let keep = |bits: u32, width: u32| -> u128 {
            if bits == 0 {
                0
            } else {
                (!0u128 >> (128 - width)) & (!0u128 << (width - bits))
            }
        };
        match (self.address, ip) {
            (std::net::IpAddr::V4(net), std::net::IpAddr::V4(ip)) => {
                let mask = keep(u32::from(self.prefix), 32);
                u128::from(u32::from(net)) & mask == u128::from(u32::from(ip)) & mask
            }
            (std::net::IpAddr::V6(net), std::net::IpAddr::V6(ip)) => {
                let mask = keep(u32::from(self.prefix), 128);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_contain_their_addresses_only() {
        let lan = Network::parse("192.168.1.0/24").expect("parses");
        assert!(lan.contains("192.168.1.77".parse().expect("ip")));
        assert!(!lan.contains("192.168.2.1".parse().expect("ip")));
        let one = Network::parse("127.0.0.1/32").expect("parses");
        assert!(one.contains("127.0.0.1".parse().expect("ip")));
        assert!(!one.contains("127.0.0.2".parse().expect("ip")));
        assert!(one.contains("::ffff:127.0.0.1".parse().expect("ip")));
        let all = Network::parse("0.0.0.0/0").expect("parses");
        assert!(all.contains("10.1.2.3".parse().expect("ip")));
        let v6 = Network::parse("fd00::/8").expect("parses");
        assert!(v6.contains("fd12::1".parse().expect("ip")));
        assert!(Network::parse("::1").is_some_and(|n| n.contains("::1".parse().expect("ip"))));
        for bad in ["", "192.168.1.0/33", "nope/8", "10.0.0.0/x"] {
            assert_eq!(Network::parse(bad), None, "{bad}");
        }
    }
}
