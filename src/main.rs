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
            Worker::new(settings, Pipelines::builtin())
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
    }
    Ok(())
}
