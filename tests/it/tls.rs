//! TLS against a PostgreSQL that only accepts TLS: a cluster of its own, started
//! with `ssl=on`, a certificate for 127.0.0.1 signed by a CA made here with the
//! `openssl` command, and a `pg_hba.conf` that rejects every plain connection, so a
//! connection that works proves TLS was used.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use fiscal::config::Settings;

use crate::harness::{
    add_user, enqueue, give_to_postgres, run, test_settings, wait_for, LocalCluster, RunningWorker,
};
use crate::scripted;

const DEADLINE: Duration = Duration::from_secs(30);

struct TlsCluster {
    cluster: LocalCluster,
    /// The CA that signed the server's certificate.
    ca: PathBuf,
    /// A CA that signed nothing the server holds.
    wrong_ca: PathBuf,
}

const HBA: &str = "\
local all all trust
hostnossl all all 127.0.0.1/32 reject
hostssl all all 127.0.0.1/32 trust
";

static TLS: OnceLock<TlsCluster> = OnceLock::new();

fn tls_cluster() -> &'static TlsCluster {
    TLS.get_or_init(|| {
        let mut dir = PathBuf::new();
        let cluster = LocalCluster::start_with(
            |root| {
                dir = root.join("certificates");
                std::fs::create_dir_all(&dir).expect("a folder for the certificates");
                make_certificates(&dir);
                vec![
                    "ssl=on".to_string(),
                    format!("ssl_cert_file={}", dir.join("server.crt").display()),
                    format!("ssl_key_file={}", dir.join("server.key").display()),
                ]
            },
            Some(HBA),
        )
        .expect("starting a PostgreSQL cluster with ssl=on");
        TlsCluster {
            cluster,
            ca: dir.join("ca.crt"),
            wrong_ca: dir.join("wrong-ca.crt"),
        }
    })
}

/// Runs `openssl` with whitespace-separated arguments.
fn openssl(dir: &Path, args: &str) {
    run(Command::new("openssl")
        .current_dir(dir)
        .args(args.split_whitespace()))
    .expect("openssl (the command-line tool) is needed to make test certificates");
}

/// A CA, a server certificate for IP 127.0.0.1 signed by it, and an unrelated CA.
fn make_certificates(dir: &Path) {
    const EC_KEY: &str = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    for ca in ["ca", "wrong-ca"] {
        openssl(
            dir,
            &format!(
                "req -x509 {EC_KEY} -days 2 -subj /CN=fiscal-test-{ca} \
                 -addext basicConstraints=critical,CA:TRUE \
                 -addext keyUsage=critical,keyCertSign,cRLSign \
                 -keyout {ca}.key -out {ca}.crt"
            ),
        );
    }
    openssl(
        dir,
        &format!("req {EC_KEY} -subj /CN=127.0.0.1 -keyout server.key -out server.csr"),
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .expect("writing server.ext");
    openssl(
        dir,
        "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
         -extfile server.ext -out server.crt",
    );
    // PostgreSQL refuses a key that others may read, or that it does not own.
    let key = dir.join("server.key");
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod 600 server.key");
    give_to_postgres(dir).expect("chown the certificate folder");
    give_to_postgres(&key).expect("chown server.key");
    give_to_postgres(&dir.join("server.crt")).expect("chown server.crt");
}

/// Settings for `dbname` on the TLS cluster, with `sslmode` and an optional CA.
fn settings(dbname: &str, sslmode: &str, ca: Option<&Path>) -> Settings {
    let url = format!("{}?sslmode={sslmode}", tls_cluster().cluster.url(dbname));
    let mut settings = test_settings(&url);
    settings.database.ca_file = ca.map(|p| p.display().to_string()).unwrap_or_default();
    settings
}

async fn connect(settings: &Settings) -> anyhow::Result<tokio_postgres::Client> {
    let (client, _driver) =
        fiscal::db::connect_driven(&settings.database.url, &settings.database).await?;
    Ok(client)
}

async fn uses_tls(client: &tokio_postgres::Client) -> bool {
    client
        .query_one(
            "select ssl from pg_stat_ssl where pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("reading pg_stat_ssl")
        .get(0)
}

#[tokio::test]
async fn tls_with_the_right_ca_connects_and_verifies_the_server() {
    let tls = tls_cluster();
    let client = connect(&settings("postgres", "require", Some(&tls.ca)))
        .await
        .expect("the CA that signed the server's certificate is accepted");
    assert!(
        uses_tls(&client).await,
        "pg_stat_ssl shows the session encrypted"
    );

    // verify-full in the URL, with the CA as libpq's sslrootcert.
    let url = format!(
        "{}?sslmode=verify-full&sslrootcert={}",
        tls.cluster.url("postgres"),
        tls.ca.display()
    );
    let client = connect(&test_settings(&url))
        .await
        .expect("sslrootcert in the URL is honoured");
    assert!(uses_tls(&client).await);
}

#[tokio::test]
async fn tls_with_a_wrong_ca_is_refused_saying_the_certificate_is_not_trusted() {
    let tls = tls_cluster();
    let settings = settings("postgres", "require", Some(&tls.wrong_ca));
    let err = tokio::time::timeout(DEADLINE, connect(&settings))
        .await
        .expect("the refusal comes at once, without hanging")
        .expect_err("a server signed by another CA must be refused");
    let shown = format!("{err:#}");
    assert!(shown.contains("not trusted"), "{shown}");
    assert!(shown.contains("unknown issuer"), "{shown}");
    assert!(shown.contains("database.ca_file"), "{shown}");

    // The worker gives up too, with the same words, rather than retrying forever.
    let err = tokio::time::timeout(
        DEADLINE,
        fiscal::worker::Worker::new(settings, fiscal::pipeline::Pipelines::default())
            .run(std::future::pending()),
    )
    .await
    .expect("the worker stops at once on an untrusted certificate")
    .expect_err("the worker refuses an untrusted server");
    assert!(format!("{err:#}").contains("not trusted"), "{err:#}");
}

#[tokio::test]
async fn tls_with_the_right_ca_refuses_a_certificate_for_another_host() {
    let tls = tls_cluster();
    // The certificate names IP 127.0.0.1 only; "localhost" reaches the same server.
    let url = format!(
        "postgres://postgres@localhost:{}/postgres?sslmode=require",
        tls.cluster.port
    );
    let mut settings = test_settings(&url);
    settings.database.ca_file = tls.ca.display().to_string();
    let err = connect(&settings)
        .await
        .expect_err("a certificate for another host must be refused");
    assert!(format!("{err:#}").contains("host name mismatch"), "{err:#}");
}

#[tokio::test]
async fn sslmode_require_without_a_ca_encrypts_without_verifying() {
    let client = connect(&settings("postgres", "require", None))
        .await
        .expect("require without a CA accepts the server's certificate");
    assert!(uses_tls(&client).await);
    let client = connect(&settings("postgres", "prefer", None))
        .await
        .expect("prefer takes the TLS the server offers");
    assert!(uses_tls(&client).await);
}

#[tokio::test]
async fn sslmode_disable_is_refused_by_a_server_that_accepts_only_tls() {
    let err = connect(&settings("postgres", "disable", None))
        .await
        .expect_err("hostnossl ... reject refuses a plain connection");
    assert!(format!("{err:#}").contains("pg_hba.conf"), "{err:#}");
}

#[tokio::test]
async fn worker_completes_an_investigation_over_verified_tls() {
    let tls = tls_cluster();
    let admin = connect(&settings("postgres", "require", None))
        .await
        .expect("admin connection");
    let dbname = format!("tls_{}", uuid::Uuid::new_v4().simple());
    admin
        .batch_execute(&format!("create database {dbname}"))
        .await
        .expect("creating the database");
    let mut settings = settings(&dbname, "require", Some(&tls.ca));
    fiscal::db::migrate::run(&settings)
        .await
        .expect("migrating over TLS");
    let client = connect(&settings).await.expect("a client");
    let id = enqueue(&client, add_user(&client).await, "steps 3 20").await;

    settings.worker.poll_interval_ms = 200;
    let worker = RunningWorker::start(
        settings.clone(),
        scripted::pipelines(&settings.database.url, "tls"),
    );
    let done = wait_for(&client, id, DEADLINE, "completion over TLS", |r| {
        r.status == "completed"
    })
    .await;
    assert_eq!(done.progress, Some(1.0));
    let report = worker.stop().await;
    assert_eq!(report.completed, 1);

    let plain: i64 = client
        .query_one(
            "select count(*) from pg_stat_ssl s join pg_stat_activity a using (pid)
             where a.datname = current_database() and not s.ssl",
            &[],
        )
        .await
        .expect("pg_stat_ssl")
        .get(0);
    assert_eq!(plain, 0, "no session of this database is unencrypted");
}
