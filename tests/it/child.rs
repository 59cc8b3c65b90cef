//! Worker processes for tests that kill, pause or signal a worker: the test binary
//! runs itself with this one test selected, so the pipeline stays test code.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use fiscal::config::Settings;
use fiscal::worker::Worker;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

#[test]
#[ignore = "entry point of worker processes spawned by other tests"]
fn worker_process() {
    let Ok(url) = std::env::var("FISCAL_TEST_CHILD") else {
        return;
    };
    let drain = std::env::var("FISCAL_TEST_CHILD_DRAIN").is_ok();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let settings = Settings::load(None).expect("child settings");
        fiscal::telemetry::init(&settings.log);
        let name = format!("child-{}", std::process::id());
        Worker::new(settings, crate::scripted::pipelines(&url, &name))
            .drain(drain)
            .run(fiscal::signals::shutdown())
            .await
            .expect("child worker");
    });
}

pub struct ChildWorker {
    child: tokio::process::Child,
    pub log: PathBuf,
}

/// The queue's settings as FISCAL_SECTION__KEY variables, as an operator would
/// set them (the analysis sections keep their defaults).
fn settings_env(settings: &Settings) -> Vec<(String, String)> {
    let value = serde_json::to_value(settings).expect("settings serialise");
    let mut env = Vec::new();
    for (section, keys) in value.as_object().into_iter().flatten() {
        if !["database", "worker", "limits", "http", "log"].contains(&section.as_str()) {
            continue;
        }
        for (key, v) in keys.as_object().into_iter().flatten() {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            env.push((
                format!("FISCAL_{}__{}", section.to_uppercase(), key.to_uppercase()),
                text,
            ));
        }
    }
    env
}

impl ChildWorker {
    pub fn spawn(settings: &Settings, drain: bool) -> ChildWorker {
        Self::spawn_in(None, settings, drain)
    }

    /// [`ChildWorker::spawn`] inside the network namespace `netns`, when given.
    pub fn spawn_in(netns: Option<&str>, settings: &Settings, drain: bool) -> ChildWorker {
        let log = std::env::temp_dir().join(format!(
            "fiscal-child-{}.log",
            uuid::Uuid::new_v4().simple()
        ));
        let file = std::fs::File::create(&log).expect("child log");
        let file2 = file.try_clone().expect("child log handle");
        let exe = std::env::current_exe().expect("test binary");
        let mut command = match netns {
            Some(ns) => {
                let mut c = tokio::process::Command::new("ip");
                c.args(["netns", "exec", ns]).arg(exe);
                c
            }
            None => tokio::process::Command::new(exe),
        };
        command
            .args([
                "child::worker_process",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("FISCAL_TEST_CHILD", &settings.database.url)
            .env("RUST_LOG", "info,fiscal=debug")
            .envs(settings_env(settings))
            .stdin(Stdio::null())
            .stdout(Stdio::from(file))
            .stderr(Stdio::from(file2))
            .kill_on_drop(true);
        if drain {
            command.env("FISCAL_TEST_CHILD_DRAIN", "1");
        }
        let child = command.spawn().expect("spawning a worker process");
        ChildWorker { child, log }
    }

    pub fn signal(&self, signal: Signal) {
        let pid = self.child.id().expect("child still running") as i32;
        kill(Pid::from_raw(pid), signal).expect("signalling the worker");
    }

    /// Waits for the process to exit, failing the test after `limit`.
    pub async fn exit_code(&mut self, limit: Duration) -> Option<i32> {
        match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(status) => status.expect("waiting for the worker").code(),
            Err(_) => panic!(
                "worker did not exit within {limit:?}; log:\n{}",
                self.log_text()
            ),
        }
    }

    /// SIGTERM, then the exit status 0 of a clean shutdown within `limit`.
    pub async fn stop_cleanly(&mut self, limit: Duration) {
        self.signal(Signal::SIGTERM);
        let code = self.exit_code(limit).await;
        assert_eq!(code, Some(0), "{}", self.log_text());
    }

    /// Resident memory of the process, from /proc.
    pub fn resident_kib(&self) -> Option<u64> {
        crate::harness::proc_kib(self.child.id()?, "VmRSS")
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ChildWorker {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_file(&self.log);
    }
}
