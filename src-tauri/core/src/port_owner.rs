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

/// Who holds a listening port, seen from the engine's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// A process of the process group `group` (the engine or one of its children).
    Group,
    /// Some other process.
    Other(PortOwner),
    /// Nothing listens there (yet).
    Nobody,
    /// The platform will not tell.
    Unknown,
}

/// Whether the listener on `port` belongs to the process group led by `group`.
pub fn check(port: u16, group: u32) -> Holder {
    let Some(listening) = platform::holders(port) else {
        return Holder::Unknown;
    };
    let Some(holders) = listening else {
        return Holder::Nobody;
    };
    if holders.iter().any(|o| process_group(o.pid) == Some(group)) {
        return Holder::Group;
    }
    // A listener whose holder this user cannot see belongs to another user: not ours.
    Holder::Other(holders.into_iter().next().unwrap_or_else(|| PortOwner {
        pid: 0,
        name: "a process of another user".into(),
    }))
}

#[cfg(unix)]
fn process_group(pid: u32) -> Option<u32> {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).ok()?);
    nix::unistd::getpgid(Some(pid))
        .ok()
        .and_then(|g| u32::try_from(g.as_raw()).ok())
}

#[cfg(not(unix))]
fn process_group(_pid: u32) -> Option<u32> {
    None
}

#[cfg(target_os = "linux")]
mod platform {
    //! `/proc/net/tcp{,6}` maps the listening port to a socket inode; `/proc/<pid>/fd` maps the
    //! inode to a process.
    use super::PortOwner;

    const LISTEN: &str = "0A";

    pub fn find(port: u16) -> Option<PortOwner> {
        holders(port)??.into_iter().next()
    }

    /// Every process this user can see holding the socket that listens on `port` (a forked
    /// server shares it): `Some(None)` when nothing listens there, `None` when `/proc` cannot
    /// be read.
    pub fn holders(port: u16) -> Option<Option<Vec<PortOwner>>> {
        let tables: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
            .iter()
            .filter_map(|table| std::fs::read_to_string(table).ok())
            .collect();
        if tables.is_empty() {
            return None;
        }
        let Some(inode) = tables.iter().find_map(|text| listening_inode(text, port)) else {
            return Some(None);
        };
        let target = format!("socket:[{inode}]");
        let mut found = Vec::new();
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
                found.push(PortOwner { pid, name });
            }
        }
        Some(Some(found))
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
        holders(port)??.into_iter().next()
    }

    /// Every process listening on `port`, from `lsof`'s field output (`p<pid>`, `c<name>`):
    /// `Some(None)` when nothing listens, `None` when `lsof` cannot be run.
    pub fn holders(port: u16) -> Option<Option<Vec<PortOwner>>> {
        let out = std::process::Command::new("lsof")
            .args(["-nP", &format!("-iTCP:{port}"), "-sTCP:LISTEN", "-Fpc"])
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let mut found: Vec<PortOwner> = Vec::new();
        for line in text.lines() {
            if let Some(pid) = line.strip_prefix('p').and_then(|p| p.parse().ok()) {
                found.push(PortOwner {
                    pid,
                    name: "unknown".into(),
                });
            } else if let (Some(name), Some(last)) = (line.strip_prefix('c'), found.last_mut()) {
                last.name = name.to_string();
            }
        }
        Some((!found.is_empty()).then_some(found))
    }
}

#[cfg(not(unix))]
mod platform {
    use super::PortOwner;

    pub fn find(_port: u16) -> Option<PortOwner> {
        None
    }

    pub fn holders(_port: u16) -> Option<Option<Vec<PortOwner>>> {
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
    fn a_listener_of_another_group_is_not_the_engines() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let own_group = nix::unistd::getpgrp().as_raw() as u32;
        assert_eq!(check(port, own_group), Holder::Group);
        match check(port, own_group + 1_000_000) {
            Holder::Other(owner) => assert_eq!(owner.pid, std::process::id()),
            other => panic!("{other:?}"),
        }
        drop(listener);
        // Closed: not ours any more (another process may take a freed port at once, as a
        // parallel test did once here, so "nobody" is not promised).
        assert_ne!(check(port, own_group), Holder::Group);
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
