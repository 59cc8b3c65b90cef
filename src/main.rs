use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use fiscal::config::Settings;
use fiscal::pipeline::Pipelines;
use fiscal::worker::Worker;

/// Runs anomaly investigations of Brazilian public spending, using PostgreSQL as
/// the queue.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Configuration file (default: ./config.toml when present).
    #[arg(long, global = true, env = "FISCAL_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a worker: claim pending investigations and run them until stopped.
    Work {
        /// Exit 0 once no investigation is pending or processing.
        #[arg(long)]
        drain: bool,
        /// Investigations run at once (overrides worker.concurrency).
        #[arg(long)]
        concurrency: Option<usize>,
    },
    /// Apply sql/ to the database (and the Supabase shim where Supabase is absent).
    Migrate,
    /// Queue depth, oldest pending investigation, workers alive, recent failures.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Load Portal da Transparência bulk downloads (monthly zip or csv) into
    /// schema `transparency`. Re-importing a month changes nothing.
    Import {
        /// Files to load: `AAAAMM.zip` as downloaded, or `*_Compras.csv`,
        /// `*_TermoAditivo.csv`, `*_ItemCompra.csv`.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fiscal: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut settings = Settings::load(cli.config.as_deref())?;
    fiscal::telemetry::init(&settings.log);
    match cli.command {
        Command::Work { drain, concurrency } => {
            if let Some(n) = concurrency {
                settings.worker.concurrency = n;
            }
            let pipelines = Pipelines::builtin(&settings)?;
            Worker::new(settings, pipelines)
                .drain(drain)
                .run(fiscal::signals::shutdown())
                .await?;
        }
        Command::Migrate => {
            let report = fiscal::db::migrate::run(&settings).await?;
            if report.applied.is_empty() {
                println!("schema is up to date");
            } else {
                println!("applied: {}", report.applied.join(", "));
            }
        }
        Command::Status { json } => {
            let (client, connection) =
                fiscal::db::connect(&settings.database.url, &settings.database).await?;
            let driver = tokio::spawn(connection);
            let status = fiscal::status::collect(&client, settings.worker.heartbeat()).await?;
            drop(client);
            let _ = driver.await;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print!("{}", fiscal::status::render(&status));
            }
        }
        Command::Import { paths } => {
            let started = std::time::Instant::now();
            let (mut client, connection) =
                fiscal::db::connect(settings.migrate_url(), &settings.database).await?;
            let driver = tokio::spawn(connection);
            let reports = fiscal::sources::import::import_paths(&mut client, &paths).await;
            drop(client);
            let _ = driver.await;
            print!(
                "{}",
                fiscal::sources::import::render(&reports, started.elapsed())
            );
            fiscal::sources::import::check(&reports)?;
        }
    }
    Ok(())
}
