//! The deployment files: the systemd unit must pass `systemd-analyze verify`.

use std::process::Command;

use crate::harness::repo_path;

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    let unit =
        std::fs::read_to_string(repo_path("deploy/fiscal.service")).expect("deploy/fiscal.service");
    assert!(
        unit.contains("TimeoutStopSec=45"),
        "stop timeout longer than the 30 s grace"
    );
    // verify checks that ExecStart exists: point it at the binary this build made.
    let dir = std::env::temp_dir().join(format!("fiscal-unit-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let path = dir.join("fiscal.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/fiscal", env!("CARGO_BIN_EXE_fiscal")),
    )
    .expect("unit copy");
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .expect("systemd-analyze (Debian package systemd) is needed to check the unit");
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Lines about other units on this machine are not ours.
    let ours: Vec<&str> = stderr.lines().filter(|l| l.contains("fiscal")).collect();
    assert!(out.status.success() && ours.is_empty(), "{stderr}");
}
