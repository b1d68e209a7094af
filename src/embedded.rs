//! The broker inside another program: [`EmbeddedBroker`] starts a real Sluice broker
//! (the same start-up as `sluice serve`, [`crate::run`]) on 127.0.0.1 on a free port,
//! for tests that want a Kafka broker without a container.
//!
//! It owns only the embedding: the builder, the broker's own thread and runtime, and
//! stopping them. It never reaches around the broker's parts: topics are created
//! through the same registry call the CreateTopics handler makes, and everything else
//! goes over the Kafka protocol like any client. Each broker has its own thread, port
//! and state, so several may run in one process.
//!
//! # Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), sluice::EmbeddedError> {
//! let broker = sluice::EmbeddedBroker::builder()
//!     .config("num.partitions", "3") // any broker setting, under its Kafka name
//!     .start()
//!     .await?; // listens on 127.0.0.1 on a free port
//! let bootstrap: String = broker.bootstrap_servers();
//! assert!(bootstrap.starts_with("127.0.0.1:"));
//! broker.create_topic("orders", 3).await?;
//! // ... point any Kafka client at `bootstrap` ...
//! broker.shutdown().await?; // dropping it also stops it
//! # Ok(())
//! # }
//! ```
//!
//! Without an async runtime, [`EmbeddedBroker::start_blocking`] starts one with the
//! default settings.
//!
//! # Storage
//!
//! By default (or with [`EmbeddedBrokerBuilder::in_memory`]) the broker keeps every
//! log in memory, as `sluice serve --in-memory` does: the same log code with the same
//! semantics (offsets, indexes, retention, compaction, transactions, group state), no
//! file anywhere, and nothing left when it stops. With
//! [`EmbeddedBrokerBuilder::data_dir`] it keeps them in that directory, exactly as
//! `sluice serve --data-dir` does (and, like it, refuses a directory another broker
//! owns).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use crate::broker::Broker;
use crate::config::{BrokerConfig, Overrides};
use crate::topics::NewTopic;

/// Worker threads of each embedded broker's runtime: enough for a test's clients,
/// without one thread per core per broker on a large machine.
const WORKER_THREADS: usize = 2;

/// The HTTP services `sluice serve` starts on fixed default ports. An embedded broker
/// leaves them off unless configured (two brokers in one process would fight over the
/// ports); names that this build does not know are skipped.
const HTTP_LISTEN_SETTINGS: &[&str] = &["sluice.http.listen", "sluice.schema.registry.listen"];

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What can go wrong starting, using or stopping an [`EmbeddedBroker`].
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// A setting given to the builder is unknown or has an invalid value.
    #[error("invalid broker settings: {0}")]
    Config(#[source] BoxError),
    /// The broker's thread or runtime could not be started.
    #[error("cannot start the broker's thread: {0}")]
    Thread(#[source] std::io::Error),
    /// The broker did not start (e.g. its data directory is owned by another broker).
    #[error("the broker did not start: {0}")]
    Start(#[source] BoxError),
    /// The broker stopped with an error (e.g. closing a log failed).
    #[error("the broker stopped with an error: {0}")]
    Stop(#[source] BoxError),
    /// The broker's thread panicked.
    #[error("the broker's thread panicked")]
    Panicked,
    /// The broker refused to create a topic; `error` is the Kafka error a CreateTopics
    /// request would have got.
    #[error("cannot create topic `{topic}`: {error:?}: {message}")]
    CreateTopic {
        topic: String,
        error: crate::error::ResponseError,
        message: String,
    },
}

/// Where the broker keeps its logs.
#[derive(Clone, Debug)]
enum Storage {
    InMemory,
    DataDir(PathBuf),
}

/// Settings for an [`EmbeddedBroker`]; see [`EmbeddedBroker::builder`].
#[derive(Clone, Debug)]
pub struct EmbeddedBrokerBuilder {
    storage: Storage,
    settings: Vec<(String, String)>,
}

impl EmbeddedBrokerBuilder {
    /// Keeps every log in memory and creates no file (the default).
    pub fn in_memory(mut self) -> Self {
        self.storage = Storage::InMemory;
        self
    }

    /// Keeps the logs in `path` (created if missing, kept after the broker stops), as
    /// `sluice serve --data-dir` does; a later broker on the same path finds them.
    pub fn data_dir(mut self, path: impl Into<PathBuf>) -> Self {
        self.storage = Storage::DataDir(path.into());
        self
    }

    /// Sets one broker setting by its Kafka name (see `config/sluice.toml`), e.g.
    /// `("num.partitions", "3")`. Checked by [`EmbeddedBrokerBuilder::start`].
    pub fn config(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.push((name.into(), value.into()));
        self
    }

    /// Starts the broker on its own thread and returns once it accepts connections.
    /// Works from any async runtime (the broker runs its own).
    pub async fn start(self) -> Result<EmbeddedBroker, EmbeddedError> {
        let (launch, ready) = self.launch()?;
        let started = ready.await;
        launch.finish(started)
    }

    /// [`EmbeddedBrokerBuilder::start`] for code without an async runtime.
    pub fn start_blocking(self) -> Result<EmbeddedBroker, EmbeddedError> {
        let (launch, ready) = self.launch()?;
        let started = ready.blocking_recv();
        launch.finish(started)
    }

    /// Resolves the settings and spawns the broker's thread; `ready` reports start-up.
    fn launch(self) -> Result<(Launch, oneshot::Receiver<Ready>), EmbeddedError> {
        let (in_memory, data_dir) = match self.storage {
            Storage::InMemory => (true, None),
            Storage::DataDir(path) => (false, Some(path)),
        };
        let mut sets: Vec<(String, String)> = HTTP_LISTEN_SETTINGS
            .iter()
            .filter(|name| crate::config::broker_config_names().any(|n| n == **name))
            .map(|name| (name.to_string(), String::new()))
            .collect();
        sets.extend(self.settings);
        let overrides = Overrides {
            listen: Some("127.0.0.1:0".into()),
            advertised_listener: None,
            data_dir,
            sets,
        };
        let mut config =
            BrokerConfig::load(None, &overrides).map_err(|e| EmbeddedError::Config(e.into()))?;
        config.in_memory = in_memory;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKER_THREADS)
            .thread_name("sluice-embedded")
            .enable_all()
            .build()
            .map_err(EmbeddedError::Thread)?;
        let (ready_tx, ready_rx) = oneshot::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sluice-embedded".into())
            .spawn(move || serve(runtime, config, ready_tx, stop_rx))
            .map_err(EmbeddedError::Thread)?;
        Ok((
            Launch {
                thread,
                stop: stop_tx,
            },
            ready_rx,
        ))
    }
}

/// What the broker's thread reports once: its address and parts, or why it did not
/// start.
type Ready = Result<(std::net::SocketAddr, Arc<Broker>, tokio::runtime::Handle), EmbeddedError>;

/// A broker thread that has not reported yet.
struct Launch {
    thread: JoinHandle<Result<(), EmbeddedError>>,
    stop: oneshot::Sender<()>,
}

impl Launch {
    fn finish(
        self,
        started: Result<Ready, oneshot::error::RecvError>,
    ) -> Result<EmbeddedBroker, EmbeddedError> {
        match started {
            Ok(Ok((address, broker, runtime))) => Ok(EmbeddedBroker {
                address,
                data_dir: (!broker.config.in_memory).then(|| broker.config.data_dir.clone()),
                broker: Some(broker),
                runtime,
                running: Some(Running {
                    thread: self.thread,
                    stop: self.stop,
                }),
            }),
            Ok(Err(e)) => {
                // The thread has already given up; wait for it to drop its runtime.
                let _ = self.thread.join();
                Err(e)
            }
            // The thread ended without a word: it panicked.
            Err(_) => Err(match self.thread.join() {
                Ok(Err(e)) => e,
                _ => EmbeddedError::Panicked,
            }),
        }
    }
}

/// The body of a broker's thread: serve until told to stop, then drop the runtime
/// (joining its worker and blocking threads) before the thread ends.
fn serve(
    runtime: tokio::runtime::Runtime,
    config: BrokerConfig,
    ready: oneshot::Sender<Ready>,
    stop: oneshot::Receiver<()>,
) -> Result<(), EmbeddedError> {
    let handle = runtime.handle().clone();
    let mut ready = Some(ready);
    let on_ready = |address, broker: &Arc<Broker>| {
        if let Some(ready) = ready.take() {
            let _ = ready.send(Ok((address, broker.clone(), handle)));
        }
    };
    // A dropped sender (the EmbeddedBroker was dropped or shut down) stops it too.
    let stopped = async {
        let _ = stop.await;
    };
    let outcome = runtime.block_on(crate::run(config, stopped, on_ready));
    drop(runtime);
    match outcome {
        Ok(()) => Ok(()),
        Err(e) => match ready.take() {
            // Failed before it was ready: the builder reports it.
            Some(ready) => {
                let _ = ready.send(Err(EmbeddedError::Start(e.into())));
                Ok(())
            }
            None => Err(EmbeddedError::Stop(e.into())),
        },
    }
}

/// The broker's thread while it serves.
struct Running {
    thread: JoinHandle<Result<(), EmbeddedError>>,
    stop: oneshot::Sender<()>,
}

impl Running {
    /// Tells the broker to stop and waits until its thread (and with it every thread,
    /// socket and file of the broker) is gone.
    fn stop(self) -> Result<(), EmbeddedError> {
        let _ = self.stop.send(());
        match self.thread.join() {
            Ok(result) => result,
            Err(_) => Err(EmbeddedError::Panicked),
        }
    }
}

/// A running Sluice broker inside this process, listening on 127.0.0.1 on a port of
/// its own. Stopped by [`EmbeddedBroker::shutdown`] or when dropped; see the
/// [module documentation](crate::embedded) for an example.
pub struct EmbeddedBroker {
    address: std::net::SocketAddr,
    /// The broker's parts, for `create_topic`; `None` once it is stopped.
    broker: Option<Arc<Broker>>,
    /// `None` in memory.
    data_dir: Option<PathBuf>,
    runtime: tokio::runtime::Handle,
    running: Option<Running>,
}

impl std::fmt::Debug for EmbeddedBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedBroker")
            .field("address", &self.address)
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl EmbeddedBroker {
    /// Settings for a new broker: default settings, in memory, 127.0.0.1 on a free
    /// port.
    pub fn builder() -> EmbeddedBrokerBuilder {
        EmbeddedBrokerBuilder {
            storage: Storage::InMemory,
            settings: Vec::new(),
        }
    }

    /// Starts a broker with the default settings without an async runtime.
    pub fn start_blocking() -> Result<EmbeddedBroker, EmbeddedError> {
        EmbeddedBroker::builder().start_blocking()
    }

    /// `host:port` for a client's `bootstrap.servers`.
    pub fn bootstrap_servers(&self) -> String {
        self.address.to_string()
    }

    /// The address the broker listens on.
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.address
    }

    /// The directory holding the broker's logs; `None` for one in memory.
    pub fn data_dir(&self) -> Option<&Path> {
        self.data_dir.as_deref()
    }

    /// Creates a topic with the broker's defaults for its settings, as a CreateTopics
    /// request with replication factor -1 would.
    pub async fn create_topic(&self, name: &str, partitions: i32) -> Result<(), EmbeddedError> {
        self.create_topic_with_configs(name, partitions, std::iter::empty::<(&str, &str)>())
            .await
    }

    /// [`EmbeddedBroker::create_topic`] with topic settings (Kafka names, e.g.
    /// `("cleanup.policy", "compact")`).
    pub async fn create_topic_with_configs<K, V>(
        &self,
        name: &str,
        partitions: i32,
        configs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<(), EmbeddedError>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let new = NewTopic {
            name: name.to_string(),
            num_partitions: partitions,
            replication_factor: 1,
            configs: configs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        };
        let Some(broker) = self.broker.clone() else {
            unreachable!("only a stopped broker has no parts, and stopping consumes it");
        };
        // Creating the partitions' logs does file I/O: on the broker's blocking pool.
        let created = self
            .runtime
            .spawn_blocking(move || broker.topics.create(new, false))
            .await
            .map_err(|_| EmbeddedError::Panicked)?;
        match created {
            Ok(_) => {
                tracing::info!(topic = name, partitions, "created topic (embedded)");
                Ok(())
            }
            Err(e) => Err(EmbeddedError::CreateTopic {
                topic: name.to_string(),
                error: e.error,
                message: e.message.unwrap_or_default(),
            }),
        }
    }

    /// Stops the broker: stops accepting, lets connections finish their request, closes
    /// every log, and waits until the broker's threads, sockets and files (its memory,
    /// in memory) are gone.
    pub async fn shutdown(mut self) -> Result<(), EmbeddedError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<(), EmbeddedError> {
        // The broker's thread drops the last reference to its parts (files, the
        // data-directory lock) before it ends.
        self.broker = None;
        let Some(running) = self.running.take() else {
            return Ok(());
        };
        running.stop()
    }
}

impl Drop for EmbeddedBroker {
    /// Stops the broker as [`EmbeddedBroker::shutdown`] does, blocking this thread for
    /// the few milliseconds that takes.
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::warn!("embedded broker stopped with an error: {e}");
        }
    }
}
