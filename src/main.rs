//! The `sluice` command line. `sluice serve` runs the broker; the client subcommands
//! (topic, produce, consume, group, dump-log) beside it are `sluice::cli`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use sluice::config::{BrokerConfig, Overrides};
use sluice::server::otlp;

#[derive(Parser)]
#[command(
    name = "sluice",
    version,
    about = "A Kafka-protocol-compatible event log broker in one binary",
    long_about = "A Kafka-protocol-compatible event log broker in one binary.\n\n\
        Point any Kafka client at it: `sluice serve` listens on 127.0.0.1:9092 and keeps \
        its data in ./sluice-data."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the broker (defaults: 127.0.0.1:9092, data in ./sluice-data).
    Serve(ServeArgs),
    #[command(flatten)]
    Client(sluice::cli::ClientCommand),
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:9092] (Kafka: listeners).
    #[arg(long, value_name = "HOST:PORT")]
    listen: Option<String>,
    /// Address clients are told to connect to [default: the listen address] (Kafka: advertised.listeners).
    #[arg(long, value_name = "HOST:PORT")]
    advertised_listener: Option<String>,
    /// Directory holding all data [default: ./sluice-data] (Kafka: log.dirs).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Keep every log in memory: no data directory, no file anywhere, nothing kept after exit.
    #[arg(long, conflicts_with = "data_dir")]
    in_memory: bool,
    /// TOML file of settings under their Kafka names; see config/sluice.toml.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Admin HTTP side (/metrics, /health, /ready) [default: 127.0.0.1:9644]; empty disables it (sluice.http.listen).
    #[arg(long, value_name = "HOST:PORT")]
    http: Option<String>,
    /// Override one setting by its Kafka name, e.g. --set log.retention.ms=3600000. Repeatable.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    set: Vec<String>,
    /// Address of the built-in schema registry [default: 127.0.0.1:8081]; empty disables it (sluice.schema.registry.listen).
    #[arg(long, value_name = "HOST:PORT")]
    schema_registry: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => match serve(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("sluice: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Client(command) => {
            match init_logging(None).and_then(|()| sluice::cli::run(command)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) if sluice::cli::output::is_broken_pipe(&e) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("sluice: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// Logs to stderr at RUST_LOG's levels (default info); with `otlp`, the request spans
/// are exported too (sluice::server::otlp). `serve` calls it once its settings are
/// read, since they say whether spans are exported.
fn init_logging(otlp: Option<otlp::Layer>) -> anyhow::Result<()> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    tracing_subscriber::registry()
        .with(otlp)
        .with(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .try_init()?;
    Ok(())
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut sets = Vec::new();
    for s in &args.set {
        let Some((name, value)) = s.split_once('=') else {
            anyhow::bail!("--set expects NAME=VALUE, got `{s}`");
        };
        sets.push((name.trim().to_string(), value.trim().to_string()));
    }
    if let Some(http) = args.http {
        sets.push(("sluice.http.listen".to_string(), http.trim().to_string()));
    }
    if let Some(address) = args.schema_registry {
        sets.push(("sluice.schema.registry.listen".to_string(), address));
    }
    let overrides = Overrides {
        listen: args.listen,
        advertised_listener: args.advertised_listener,
        data_dir: args.data_dir,
        sets,
    };
    let mut config = BrokerConfig::load(args.config.as_deref(), &overrides)?;
    config.in_memory = args.in_memory;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (layer, exporter) = otlp::install(&config, runtime.handle().clone())?.unzip();
    init_logging(layer)?;
    if let Some(exporter) = &exporter {
        exporter.log_started();
    }
    let served = runtime.block_on(sluice::run(config, shutdown_signal(), |_, _| {}));
    // Sends the last spans while the runtime that carries the exports still runs.
    drop(exporter);
    served
}

/// Completes on the first SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("installing SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
        _ = term.recv() => tracing::info!("SIGTERM received"),
    }
}
