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
    /// One command: a private PostgreSQL, the schema, the real sample month, a few
    /// investigations and a worker, shown live. Ctrl-C stops everything.
    Dev {
        /// Where the private cluster lives; reused on the next run.
        #[arg(long, default_value = ".fiscal/dev")]
        dir: PathBuf,
        /// Exit 0 once the demo investigations are finished, leaving the
        /// database running (for scripts and tests).
        #[arg(long)]
        once: bool,
        /// Stop the private cluster of an earlier `--once` run, and exit.
        #[arg(long, conflicts_with = "once")]
        stop: bool,
    },
    /// Measure the queue against the server of database.url, in a database of its
    /// own: claim and pick-up latency, throughput, HOT progress writes, on an
    /// empty table and after adding finished investigations.
    Bench {
        /// The benchmark's database, dropped and created anew on that server.
        #[arg(long, default_value = "fiscal_queue_bench")]
        database: String,
        /// Completed investigations added between the two measurements.
        #[arg(long, default_value_t = 1_000_000)]
        finished_rows: i64,
        /// Claims timed and investigations run per figure.
        #[arg(long, default_value_t = 1_000)]
        samples: i64,
        /// Investigations the benchmark worker runs at once.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Follow one investigation live; exit 0 when it completes.
    Watch {
        /// The investigation's id.
        id: uuid::Uuid,
    },
    /// Apply sql/ to the database (and the Supabase shim where Supabase is absent).
    Migrate,
    /// Insert an investigation as a citizen would (under RLS) and print its id.
    Enqueue {
        /// The citizen's user id (auth.users).
        #[arg(long)]
        user: uuid::Uuid,
        /// The citizen's question.
        #[arg(long)]
        query: String,
        #[arg(long, default_value = "contracts")]
        data_source: String,
        /// Filters as JSON, e.g. '{"min_value": 1000000, "year": 2024}'.
        #[arg(long, default_value = "{}")]
        filters: String,
        /// Detector families as a JSON array; empty means all.
        #[arg(long, default_value = "[]")]
        anomaly_types: String,
        /// Create the user in auth.users first (development databases).
        #[arg(long)]
        create_user: bool,
    },
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
    /// The failed investigations (dead letters), newest first, with their errors.
    Failed {
        /// How many to list.
        #[arg(long, default_value_t = 20)]
        limit: i64,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Put a failed investigation back in the queue, with fresh attempts.
    Retry { id: uuid::Uuid },
    /// Cancel a pending or running investigation, as its citizen could.
    Cancel { id: uuid::Uuid },
    /// Stop every worker of the fleet from claiming; running investigations finish.
    Pause,
    /// Let the fleet claim again.
    Resume,
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
    if matches!(cli.command, Command::Dev { .. } | Command::Bench { .. }) {
        // The live board is the output; the worker speaks up only when it must.
        settings.log.level = "warn".into();
    }
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
        Command::Dev { dir, once, stop } => {
            fiscal::dev::run(settings, fiscal::dev::Options { dir, once, stop }).await?
        }
        Command::Bench {
            database,
            finished_rows,
            samples,
            concurrency,
            json,
        } => {
            let options = fiscal::bench::Options {
                database,
                finished_rows,
                samples,
                concurrency,
                json,
            };
            fiscal::bench::run(settings, options).await?
        }
        Command::Watch { id } => fiscal::watch::run(&settings, id).await?,
        Command::Migrate => {
            let report = fiscal::db::migrate::run(&settings).await?;
            if report.applied.is_empty() {
                println!("schema is up to date");
            } else {
                println!("applied: {}", report.applied.join(", "));
            }
        }
        Command::Enqueue {
            user,
            query,
            data_source,
            filters,
            anomaly_types,
            create_user,
        } => {
            let parse = |name: &str, text: &str| {
                serde_json::from_str::<serde_json::Value>(text)
                    .map_err(|e| anyhow::anyhow!("--{name} is not valid JSON: {e}"))
            };
            let request = fiscal::enqueue::Request {
                user,
                query,
                data_source,
                filters: parse("filters", &filters)?,
                anomaly_types: parse("anomaly-types", &anomaly_types)?,
                create_user,
            };
            fiscal::enqueue::run(&settings, &request).await?;
        }
        Command::Status { json } => fiscal::status::run(&settings, json).await?,
        Command::Import { paths } => fiscal::sources::import::run(&settings, &paths).await?,
        Command::Failed { limit, json } => {
            fiscal::status::run_failed(&settings, limit, json).await?
        }
        Command::Retry { id } => println!("{}", fiscal::operator::retry(&settings, id).await?),
        Command::Cancel { id } => println!("{}", fiscal::operator::cancel(&settings, id).await?),
        Command::Pause => println!("{}", fiscal::operator::set_paused(&settings, true).await?),
        Command::Resume => println!("{}", fiscal::operator::set_paused(&settings, false).await?),
    }
    Ok(())
}
