//! Database passwords never reach a log line, an error or `fiscal status`, while
//! the errors still say what failed. The `fiscal` binary runs as an operator runs
//! it, with password-bearing URLs, and everything it prints is searched.

use std::process::Stdio;
use std::time::Duration;

use crate::harness::{
    add_user, enqueue, eventually, with_user, TestDb, WORKER_LOGIN, WORKER_PASSWORD,
};

/// The owner's URL as an operator would write it for `database.migrate_url`. The
/// test cluster trusts the superuser, so the password is never checked, only
/// carried around.
const OWNER_PASSWORD: &str = "pw-owner-R4nd0m-never-printed";
const WRONG_PASSWORD: &str = "pw-wrong-Zt81x-never-printed";

struct Run {
    success: bool,
    output: String,
}

async fn fiscal(args: &[&str], envs: &[(&str, &str)]) -> Run {
    let out = crate::harness::fiscal_command()
        .args(args)
        .envs(envs.iter().copied())
        .env("RUST_LOG", "trace")
        .output()
        .await
        .expect("running fiscal");
    Run {
        success: out.status.success(),
        output: crate::harness::printed(&out),
    }
}

fn assert_no_password(what: &str, output: &str) {
    for secret in [WORKER_PASSWORD, OWNER_PASSWORD, WRONG_PASSWORD] {
        assert!(
            !output.contains(secret),
            "{what} printed a password:\n{output}"
        );
    }
}

/// A TCP port on 127.0.0.1 where nothing listens.
fn dead_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[tokio::test]
async fn a_working_worker_and_fiscal_status_never_print_the_database_password() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let user = add_user(&client).await;
    enqueue(&client, user, "contratos sem dados importados").await;
    let owner = with_user(&db.url, "postgres", OWNER_PASSWORD);
    for format in ["json", "human"] {
        let run = fiscal(
            &["work", "--drain"],
            &[
                ("FISCAL_DATABASE__URL", db.worker_url.as_str()),
                ("FISCAL_DATABASE__MIGRATE_URL", owner.as_str()),
                ("FISCAL_LOG__FORMAT", format),
            ],
        )
        .await;
        assert!(run.success, "{}", run.output);
        assert!(
            run.output.contains("worker started") && run.output.contains("worker stopped"),
            "{}",
            run.output
        );
        assert_no_password(&format!("fiscal work ({format} logs)"), &run.output);
    }
    for args in [&["status"][..], &["status", "--json"][..]] {
        let run = fiscal(args, &[("FISCAL_DATABASE__URL", db.worker_url.as_str())]).await;
        assert!(run.success, "{}", run.output);
        assert!(run.output.contains("pending"), "{}", run.output);
        assert_no_password("fiscal status", &run.output);
    }
}

#[tokio::test]
async fn a_wrong_password_is_reported_as_such_without_the_password() {
    let db = TestDb::new().await;
    let wrong = with_user(&db.url, WORKER_LOGIN, WRONG_PASSWORD);
    for args in [&["status"][..], &["work", "--drain"][..], &["migrate"][..]] {
        let run = fiscal(
            args,
            &[
                ("FISCAL_DATABASE__URL", wrong.as_str()),
                ("FISCAL_DATABASE__MIGRATE_URL", wrong.as_str()),
                ("FISCAL_LOG__FORMAT", "json"),
            ],
        )
        .await;
        assert!(!run.success, "{args:?} must fail:\n{}", run.output);
        assert!(
            run.output.contains("password authentication failed")
                && run.output.contains(WORKER_LOGIN)
                && run.output.contains("127.0.0.1:"),
            "{args:?} must say which login was refused where:\n{}",
            run.output
        );
        assert_no_password(&format!("{args:?}"), &run.output);
    }
}

#[tokio::test]
async fn an_unreachable_database_is_reported_with_its_address_but_without_the_password() {
    let db = TestDb::new().await;
    let port = dead_port();
    let nowhere = with_user(
        &format!("postgres://x@127.0.0.1:{port}/{}", db.name),
        WORKER_LOGIN,
        WORKER_PASSWORD,
    );
    let run = fiscal(&["status"], &[("FISCAL_DATABASE__URL", nowhere.as_str())]).await;
    assert!(!run.success);
    assert!(
        run.output.contains(&format!(
            "connecting to the database at postgres://{WORKER_LOGIN}@127.0.0.1:{port}/"
        )) && run.output.contains("refused"),
        "{}",
        run.output
    );
    assert_no_password("fiscal status", &run.output);

    // `fiscal work` waits out a database that is not there yet, saying so.
    let log = std::env::temp_dir().join(format!("fiscal-secrets-{}.log", db.name));
    let file = std::fs::File::create(&log).expect("a log file");
    let mut worker = crate::harness::fiscal_command()
        .args(["work"])
        .env("FISCAL_DATABASE__URL", &nowhere)
        .env("FISCAL_LOG__FORMAT", "json")
        .env("RUST_LOG", "trace")
        .stdout(Stdio::from(file.try_clone().expect("log handle")))
        .stderr(Stdio::from(file))
        .kill_on_drop(true)
        .spawn()
        .expect("spawning fiscal work");
    let text = eventually(
        Duration::from_secs(30),
        "the outage to be logged",
        || async {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            text.contains("retrying with back-off").then_some(text)
        },
    )
    .await;
    worker.kill().await.expect("stopping the worker");
    let _ = std::fs::remove_file(&log);
    assert!(text.contains("refused"), "{text}");
    assert_no_password("fiscal work", &text);

    let garbled = format!("postgres://{WORKER_LOGIN}:{WORKER_PASSWORD}@127.0.0.1:notaport/db");
    let run = fiscal(&["status"], &[("FISCAL_DATABASE__URL", garbled.as_str())]).await;
    assert!(!run.success);
    assert!(
        run.output.contains("database URL is not valid"),
        "{}",
        run.output
    );
    assert_no_password("fiscal status", &run.output);
}
