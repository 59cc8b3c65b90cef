//! A second host on this machine for partition tests: a network namespace joined
//! to ours by a veth pair, with addresses the test makes up. The database stays
//! on 127.0.0.1; a forwarder on our end of the pair carries the namespace's
//! connections to it, so what the namespace reaches is exactly one port.
//!
//! A cut puts a `blackhole` queue on both ends: packets vanish without an error,
//! as on a partition between hosts, and TCP retransmits what it sent once the
//! cut heals (the late writes a fence must refuse). Needs root and iproute2.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;

use tokio::net::{TcpListener, TcpStream};

pub struct NetNs {
    pub name: String,
    host_if: String,
    ns_if: String,
    pub host_addr: Ipv4Addr,
    forwarder: tokio::task::JoinHandle<()>,
    /// The port on `host_addr` that leads to the database.
    pub port: u16,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {args:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn tc(namespace: Option<&str>, args: &[&str]) {
    let mut command = match namespace {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, "tc"]);
            c
        }
        None => Command::new("tc"),
    };
    let out = command.args(args).output().expect("running tc");
    assert!(
        out.status.success(),
        "tc {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl NetNs {
    /// Why this machine cannot run partition tests, if it cannot.
    pub fn unavailable() -> Option<&'static str> {
        if !crate::harness::is_root() {
            return Some("network namespaces need root");
        }
        if Command::new("ip").arg("-V").output().is_err() {
            return Some("iproute2 (`ip`) is not installed");
        }
        None
    }

    /// A namespace whose `host_addr:port` reaches `127.0.0.1:target`.
    pub async fn with_forward_to(target: u16) -> NetNs {
        let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
        // A /30 in 10.213.0.0/16 that nothing else on the machine uses.
        let subnet = u16::from_str_radix(&tag[..4], 16).expect("hex") & 0x3fff;
        let host_addr = Ipv4Addr::new(
            10,
            213,
            (subnet >> 6) as u8,
            ((subnet & 0x3f) * 4 + 1) as u8,
        );
        let ns_addr = Ipv4Addr::from(u32::from(host_addr) + 1);
        let mut ns = NetNs {
            name: format!("fiscal-{tag}"),
            host_if: format!("fh{tag}"),
            ns_if: format!("fn{tag}"),
            host_addr,
            forwarder: tokio::spawn(async {}),
            port: 0,
        };
        let host_cidr = format!("{host_addr}/30");
        let ns_cidr = format!("{ns_addr}/30");
        let setup = [
            vec!["netns", "add", &ns.name],
            vec![
                "link",
                "add",
                &ns.host_if,
                "type",
                "veth",
                "peer",
                "name",
                &ns.ns_if,
            ],
            vec!["link", "set", &ns.ns_if, "netns", &ns.name],
            vec!["addr", "add", &host_cidr, "dev", &ns.host_if],
            vec!["link", "set", &ns.host_if, "up"],
            vec!["-n", &ns.name, "addr", "add", &ns_cidr, "dev", &ns.ns_if],
            vec!["-n", &ns.name, "link", "set", &ns.ns_if, "up"],
            vec!["-n", &ns.name, "link", "set", "lo", "up"],
        ];
        let failed = setup.iter().find_map(|args| ip(args).err());
        if let Some(e) = failed {
            drop(ns);
            panic!("setting up the namespace: {e}");
        }
        let listener = TcpListener::bind(SocketAddr::from((host_addr, 0)))
            .await
            .expect("a forwarder port on the veth address");
        let port = listener.local_addr().expect("bound").port();
        let forwarder = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", target)).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        ns.forwarder = forwarder;
        ns.port = port;
        ns
    }

    /// Drops every packet between the namespace and us, both ways, silently.
    pub fn cut(&self) {
        tc(
            None,
            &["qdisc", "add", "dev", &self.host_if, "root", "blackhole"],
        );
        tc(
            Some(&self.name),
            &["qdisc", "add", "dev", &self.ns_if, "root", "blackhole"],
        );
    }

    pub fn heal(&self) {
        tc(None, &["qdisc", "del", "dev", &self.host_if, "root"]);
        tc(
            Some(&self.name),
            &["qdisc", "del", "dev", &self.ns_if, "root"],
        );
    }

    /// `url` with its host and port replaced by the way into this namespace's
    /// database.
    pub fn url(&self, url: &str) -> String {
        let at = url.rfind('@').expect("a URL with a user") + 1;
        let rest = &url[at..];
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        format!(
            "{}{}:{}{}",
            &url[..at],
            self.host_addr,
            self.port,
            &rest[end..]
        )
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        self.forwarder.abort();
        // Deleting one end of a veth pair deletes both.
        let _ = ip(&["link", "del", &self.host_if]);
        let _ = ip(&["netns", "del", &self.name]);
    }
}
