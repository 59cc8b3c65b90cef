//! A private PostgreSQL cluster for `fiscal dev`, made from the installed server
//! package (`initdb`, `pg_ctl`) and kept between runs.
//!
//! PostgreSQL refuses to run as root, so as root the cluster runs as the
//! `postgres` OS user, and lives where that user can reach: the project folder
//! when its parents are open to it, the system temp dir otherwise.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};

use crate::pg_server::{self, free_port, is_root, run};

pub struct Cluster {
    root: PathBuf,
    bin: PathBuf,
    port: u16,
}

impl Cluster {
    /// Finds the cluster under `root` or creates it there (initdb), on the port it
    /// used last time, or a free one. Does not start it.
    pub fn open_or_create(preferred_root: &Path) -> Result<Cluster> {
        let bin = pg_server::bin_dir()?;
        let root = reachable_root(preferred_root)?;
        let port_file = root.join("port");
        let port = match std::fs::read_to_string(&port_file) {
            Ok(text) => text
                .trim()
                .parse()
                .with_context(|| format!("{} does not hold a port number", port_file.display()))?,
            Err(_) => free_port()?,
        };
        let cluster = Cluster { root, bin, port };
        if !cluster.data().join("PG_VERSION").exists() {
            cluster.init()?;
        }
        std::fs::write(&port_file, cluster.port.to_string())
            .with_context(|| format!("writing {}", port_file.display()))?;
        Ok(cluster)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    fn init(&self) -> Result<()> {
        std::fs::create_dir_all(&self.root)
            .with_context(|| format!("creating {}", self.root.display()))?;
        pg_server::give_to_postgres(&self.root)?;
        run(self
            .pg_command("initdb")
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "-D",
            ])
            .arg(self.data()))
        .context("initdb failed")
    }

    pub fn is_running(&self) -> bool {
        self.pg_command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("status")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Starts the server unless it already runs. When the remembered port has been
    /// taken by something else meanwhile, moves to a free one.
    pub fn start(&mut self) -> Result<()> {
        if self.is_running() {
            return Ok(());
        }
        if std::net::TcpListener::bind(("127.0.0.1", self.port)).is_err() {
            self.port = free_port()?;
            std::fs::write(self.root.join("port"), self.port.to_string())?;
        }
        // wal_level=logical so the Realtime publication behaves as on Supabase.
        let options = format!(
            "-c port={} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} \
             -c wal_level=logical",
            self.port,
            self.root.display()
        );
        run(self
            .pg_command("pg_ctl")
            .args(["-w", "-t", "60", "-o", &options, "-l"])
            .arg(self.root.join("server.log"))
            .arg("-D")
            .arg(self.data())
            .arg("start"))
        .with_context(|| {
            format!(
                "starting PostgreSQL (its log: {})",
                self.root.join("server.log").display()
            )
        })
    }

    /// A fast shutdown: sessions are closed, committed data is kept.
    pub fn stop(&self) -> Result<()> {
        run(self
            .pg_command("pg_ctl")
            .args(["-w", "-m", "fast", "-D"])
            .arg(self.data())
            .arg("stop"))
        .context("stopping PostgreSQL")
    }

    fn pg_command(&self, program: &str) -> Command {
        pg_server::command(&self.bin, program)
    }
}

/// As root, the `postgres` user must be able to enter every parent folder; the
/// project may sit under /root, which it cannot.
fn reachable_root(preferred: &Path) -> Result<PathBuf> {
    let preferred = std::path::absolute(preferred)
        .with_context(|| format!("resolving {}", preferred.display()))?;
    if !is_root() {
        return Ok(preferred);
    }
    let parent = preferred.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let reachable = Command::new("runuser")
        .args(["-u", "postgres", "--", "test", "-x"])
        .arg(parent)
        .status()
        .is_ok_and(|s| s.success());
    if reachable {
        return Ok(preferred);
    }
    let tag = uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_URL,
        preferred.to_string_lossy().as_bytes(),
    );
    Ok(std::env::temp_dir().join(format!("fiscal-dev-{}", &tag.simple().to_string()[..12])))
}
