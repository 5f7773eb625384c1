//! Which process holds a TCP port, so "port in use" can say who. Best effort: `None` when the
//! platform will not tell (another user's process, no `lsof`).

/// A process listening on a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortOwner {
    pub pid: u32,
    pub name: String,
}

/// The process listening on TCP `port`, if it can be found.
pub fn find(port: u16) -> Option<PortOwner> {
    platform::find(port)
}

#[cfg(target_os = "linux")]
mod platform {
    //! `/proc/net/tcp{,6}` maps the listening port to a socket inode; `/proc/<pid>/fd` maps the
    //! inode to a process.
    use super::PortOwner;

    const LISTEN: &str = "0A";

    pub fn find(port: u16) -> Option<PortOwner> {
        let inode = ["/proc/net/tcp", "/proc/net/tcp6"]
            .iter()
            .filter_map(|table| std::fs::read_to_string(table).ok())
            .find_map(|text| listening_inode(&text, port))?;
        let target = format!("socket:[{inode}]");
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
                continue;
            };
            let holds = fds.flatten().any(|fd| {
                std::fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy() == target)
            });
            if holds {
                let name = std::fs::read_to_string(entry.path().join("comm"))
                    .map(|n| n.trim().to_string())
                    .unwrap_or_else(|_| "unknown".into());
                return Some(PortOwner { pid, name });
            }
        }
        None
    }

    /// The inode of the socket listening on `port` in one `/proc/net/tcp` table.
    pub(super) fn listening_inode(table: &str, port: u16) -> Option<String> {
        table.lines().skip(1).find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local_port = fields.get(1)?.rsplit(':').next()?;
            let listening = *fields.get(3)? == LISTEN;
            (listening && u16::from_str_radix(local_port, 16).ok()? == port)
                .then(|| fields.get(9).map(|s| s.to_string()))
                .flatten()
        })
    }
}

#[cfg(all(unix, not(target_os = "linux")))]
mod platform {
    //! `lsof` ships with macOS.
    use super::PortOwner;

    pub fn find(port: u16) -> Option<PortOwner> {
        let out = std::process::Command::new("lsof")
            .args(["-nP", &format!("-iTCP:{port}"), "-sTCP:LISTEN", "-Fpc"])
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let pid = text
            .lines()
            .find_map(|l| l.strip_prefix('p'))?
            .parse()
            .ok()?;
        let name = text
            .lines()
            .find_map(|l| l.strip_prefix('c'))
            .unwrap_or("unknown");
        Some(PortOwner {
            pid,
            name: name.to_string(),
        })
    }
}

#[cfg(not(unix))]
mod platform {
    use super::PortOwner;

    pub fn find(_port: u16) -> Option<PortOwner> {
        None
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn finds_this_process_listening() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let owner = find(port).expect("owner found");
        assert_eq!(owner.pid, std::process::id());
    }

    #[test]
    fn parses_a_proc_table() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:4B91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1\n";
        assert_eq!(
            platform::listening_inode(table, 0x4B91).as_deref(),
            Some("12345")
        );
        assert_eq!(platform::listening_inode(table, 80), None);
    }
}
