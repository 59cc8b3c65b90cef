//! `fiscal dev`: the whole system on one machine in one command. A private
//! PostgreSQL cluster (kept between runs), the schema, real Portal da
//! Transparência files (a month of contracts, a year of the federal budget), a
//! few investigations inserted as a citizen would, and a worker, shown live.

mod cluster;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::config::Settings;
use crate::pipeline::Pipelines;
use crate::watch::{self, Board};
use crate::worker::Worker;
pub use cluster::Cluster;

/// The real files `fiscal dev` loads, with the table each fills: January 2021's
/// contracts (see `data/sample/SOURCES.md`) and the 2022 federal budget (see
/// `data/expenses/SOURCES.md`), as the Portal serves them.
const SAMPLES: &[(&str, &[u8], &str)] = &[
    (
        "portal_transparencia_compras_202101_original.zip",
        include_bytes!("../../data/sample/portal_transparencia_compras_202101_original.zip"),
        "contracts",
    ),
    (
        "portal_transparencia_orcamento_despesa_2022_original.zip",
        include_bytes!(
            "../../data/expenses/portal_transparencia_orcamento_despesa_2022_original.zip"
        ),
        "budget_lines",
    ),
];

/// Questions a citizen could ask of the samples: data source, text, filters.
/// Most contracts questions leave `filters` empty, as many frontends do, and
/// are read from their words (src/question); one sends explicit filters too,
/// which win over the text. The budget is asked by filters.
const DEMO: &[(&str, &str, &str)] = &[
    (
        "contracts",
        "Contratos acima de R$ 1 milhão no Ministério da Educação",
        "{}",
    ),
    (
        "contracts",
        "Compras do Ministério da Defesa",
        r#"{"codigo_orgao_superior": "52000"}"#,
    ),
    (
        "contracts",
        "Dispensas de licitação acima de R$ 50 mil",
        "{}",
    ),
    ("contracts", "Todos os contratos do mês", "{}"),
    (
        "expenses",
        "Orçamento do Ministério da Defesa em 2022",
        r#"{"year": 2022, "codigo_orgao_superior": "52000"}"#,
    ),
];

pub struct Options {
    /// Where the cluster lives (default `.fiscal/dev`).
    pub dir: PathBuf,
    /// Exit once the demo investigations are finished, leaving the database up.
    pub once: bool,
    /// Only stop the cluster of an earlier run.
    pub stop: bool,
}

pub async fn run(mut settings: Settings, options: Options) -> Result<()> {
    let mut cluster = Cluster::open_or_create(&options.dir)?;
    if options.stop {
        if cluster.is_running() {
            cluster.stop()?;
            println!(
                "stopped the development database in {}",
                cluster.root().display()
            );
        } else {
            println!("the development database is not running");
        }
        return Ok(());
    }
    let reused = cluster.is_running();
    cluster.start()?;
    let url = cluster.url();
    println!(
        "PostgreSQL {} at {url}\n  data: {}\n  look: psql {url}",
        if reused { "already running" } else { "started" },
        cluster.root().display()
    );

    settings.database.url = url.clone();
    settings.database.migrate_url = String::new();
    // The web page on http.listen, or on a free port when a real worker holds it.
    let listen = match settings.http.listen.trim() {
        "" => "127.0.0.1:0".to_string(),
        listen => listen.to_string(),
    };
    let listener = match tokio::net::TcpListener::bind(&listen).await {
        Ok(listener) => listener,
        Err(_) => tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding a port for the web page")?,
    };
    let page = listener.local_addr().context("the web page's address")?;
    settings.http.ui = true;
    if settings.http.ui_token.trim().is_empty() {
        settings.http.ui_token = Uuid::new_v4().simple().to_string();
    }
    let migrated = crate::db::migrate::run(&settings).await?;
    if !migrated.applied.is_empty() {
        println!("schema: applied {}", migrated.applied.join(", "));
    }
    let (mut client, driver) =
        crate::db::connect_driven(&settings.database.url, &settings.database).await?;
    import_sample(&mut client, cluster.root()).await?;
    let (citizen, ids) = enqueue_demo(&mut client).await?;
    settings.http.ui_citizen = citizen.to_string();
    drop(client);
    let _ = driver.await;

    let mut signals = crate::signals::Signals::install();
    let stop_worker = CancellationToken::new();
    let pipelines = Pipelines::builtin(&settings)?;
    let worker = tokio::spawn(
        Worker::new(settings.clone(), pipelines)
            .listener(listener)
            .run(stop_worker.clone().cancelled_owned()),
    );
    println!(
        "web page: http://{page}/ (as this citizen)\n  operator view: http://{page}/operator \
         (any user name, password {})",
        settings.http.ui_token
    );

    let channels: Vec<String> = ids.iter().map(|id| watch::channel(*id)).collect();
    let (client, mut notifications, driver) = watch::listening_client(&settings, &channels).await?;
    let mut board = Board::new();
    let interrupted = tokio::select! {
        finished = watch::follow(&client, &mut notifications, &ids, &mut board) => {
            println!();
            for s in finished? {
                println!("{}", watch::render_final(&s, 5));
            }
            false
        }
        _ = signals.recv() => true,
    };
    drop(client);
    driver.abort();

    if !interrupted && !options.once {
        println!(
            "The worker keeps running: ask more on the web page, http://{page}/, or with\n  \
             fiscal enqueue --create-user --user {} --query '…' --filters '{{\"min_value\": 500000}}'\n  \
             (with DATABASE_URL={url})\nCtrl-C stops the worker and the database.",
            Uuid::new_v4()
        );
        signals.recv().await;
    }
    stop_worker.cancel();
    let report = worker.await.context("the worker task")??;
    tracing::debug!(?report, "dev worker stopped");
    if options.once && !interrupted {
        println!(
            "database left running at {url}; stop it with `fiscal dev --stop --dir {}`",
            options.dir.display()
        );
    } else {
        cluster.stop()?;
        println!("stopped the worker and the database");
    }
    Ok(())
}

/// Loads each sample unless an earlier run did (the import is idempotent,
/// this only saves the seconds it takes).
async fn import_sample(client: &mut tokio_postgres::Client, root: &Path) -> Result<()> {
    for (name, bytes, table) in SAMPLES {
        // `table` is one of the constants above, never input.
        let loaded: i64 = client
            .query_one(&format!("select count(*) from transparency.{table}"), &[])
            .await?
            .get(0);
        if loaded > 0 {
            println!("sample data already loaded ({loaded} rows in transparency.{table})");
            continue;
        }
        let path = root.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        let reports = crate::sources::import::import_paths(client, &[&path]).await;
        crate::sources::import::check(&reports)?;
        for report in &reports {
            println!("imported {}", report.line());
        }
    }
    Ok(())
}

/// One new citizen per run, so earlier runs never count against the
/// per-citizen cap.
async fn enqueue_demo(client: &mut tokio_postgres::Client) -> Result<(Uuid, Vec<Uuid>)> {
    let user = Uuid::new_v4();
    let mut ids = Vec::with_capacity(DEMO.len());
    for (i, (data_source, query, filters)) in DEMO.iter().enumerate() {
        let request = crate::enqueue::Request {
            user,
            query: query.to_string(),
            data_source: data_source.to_string(),
            filters: serde_json::from_str(filters).context("demo filters")?,
            anomaly_types: json!([]),
            create_user: i == 0,
        };
        ids.push(crate::enqueue::enqueue(client, &request).await?);
    }
    println!("citizen {user} asked {} questions", ids.len());
    Ok((user, ids))
}
