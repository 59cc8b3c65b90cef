//! The installed PostgreSQL server's programs (`initdb`, `pg_ctl`), run as a user
//! they accept: what `fiscal dev` and the test harness start their clusters with.
//! PostgreSQL refuses to run as root, so as root they run as the `postgres` OS
//! user (the Debian package creates it), and what they read must be theirs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context, Result};

/// `pg_config --bindir`, or the newest `/usr/lib/postgresql/*/bin` (Debian does
/// not put `initdb` on the PATH).
pub fn bin_dir() -> Result<PathBuf> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return Ok(dir);
        }
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    candidates.sort();
    candidates
        .into_iter()
        .rev()
        .find(|d| d.join("initdb").exists())
        .ok_or_else(|| {
            anyhow!(
                "the PostgreSQL server (initdb, pg_ctl) is not installed; on Debian or \
                 Ubuntu: sudo apt-get install -y postgresql"
            )
        })
}

/// `program` from `bin`, as the `postgres` user when we are root.
pub fn command(bin: &Path, program: &str) -> Command {
    let path = bin.join(program);
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(path);
        c
    } else {
        Command::new(path)
    }
}

/// Hands a file or folder to the `postgres` user when we are root: the server
/// (and PgBouncer) run as that user and refuse keys others can read.
pub fn give_to_postgres(path: &Path) -> Result<()> {
    if is_root() {
        run(Command::new("chown").arg("postgres:").arg(path))?;
    }
    Ok(())
}

pub fn is_root() -> bool {
    // The effective uid, without a libc dependency: /proc/self/status "Uid:" line.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .context("finding a free port on 127.0.0.1")?
        .port())
}

/// Runs `command` to the end; its output becomes the error when it fails.
pub fn run(command: &mut Command) -> Result<()> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {:?}", command.get_program()))?;
    if out.status.success() {
        Ok(())
    } else {
        bail!(
            "{:?} failed: {}{}",
            command,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        )
    }
}
