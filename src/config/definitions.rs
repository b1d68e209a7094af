//! The table of every setting Sluice understands, under its Kafka name.
//!
//! One table drives everything that talks about settings: parsing `--set` flags and
//! the TOML file, DescribeConfigs (value, default, source, synonyms, documentation),
//! topic-level overrides in CreateTopics, and the test that checks `config/sluice.toml`
//! documents every setting. It must never hold runtime state.

/// Kafka's `ConfigType` as it appears in DescribeConfigs v3+.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigType {
    Boolean = 1,
    String = 2,
    Int = 3,
    Short = 4,
    Long = 5,
    Double = 6,
    List = 7,
    Password = 9,
}

/// Who may set a setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Broker-only setting (listeners, data directory, request limits).
    Broker,
    /// A topic setting; `broker_name` is the broker-wide default it falls back to.
    Topic { broker_name: &'static str },
}

/// One setting: its Kafka name, type, default and documentation.
#[derive(Clone, Copy, Debug)]
pub struct ConfigDef {
    pub name: &'static str,
    pub config_type: ConfigType,
    pub default: &'static str,
    pub scope: Scope,
    /// True when the value is fixed at start-up (DescribeConfigs read_only).
    pub read_only: bool,
    /// True when Sluice accepts and reports the setting but does not act on it (yet);
    /// the documentation says so.
    pub ignored: bool,
    pub doc: &'static str,
}

const fn broker(
    name: &'static str,
    config_type: ConfigType,
    default: &'static str,
    read_only: bool,
    doc: &'static str,
) -> ConfigDef {
    ConfigDef {
        name,
        config_type,
        default,
        scope: Scope::Broker,
        read_only,
        ignored: false,
        doc,
    }
}

const fn topic(
    name: &'static str,
    broker_name: &'static str,
    config_type: ConfigType,
    default: &'static str,
    ignored: bool,
    doc: &'static str,
) -> ConfigDef {
    ConfigDef {
        name,
        config_type,
        default,
        scope: Scope::Topic { broker_name },
        read_only: false,
        ignored,
        doc,
    }
}

use ConfigType::*;

/// Broker settings. Topic-level defaults (the `log.*` names) are listed in [`TOPIC_CONFIGS`]
/// through their `broker_name`, and are broker settings too.
pub const BROKER_CONFIGS: &[ConfigDef] = &[
    broker("listeners", String, "PLAINTEXT://127.0.0.1:9092", true,
        "The listeners, as NAME://HOST:PORT separated by commas, e.g. PLAINTEXT://127.0.0.1:9092,SASL_SSL://127.0.0.1:9093. Each name's security protocol comes from listener.security.protocol.map; an entry without NAME:// is PLAINTEXT. `sluice serve --listen HOST:PORT` is the shorthand for one PLAINTEXT listener (giving both stops start-up)."),
    broker("advertised.listeners", String, "", true,
        "The addresses clients are told to connect to, per listener name (NAME://HOST:PORT separated by commas): Metadata, FindCoordinator and DescribeCluster answer each client with the address of the listener its request came in on. A listener not named here advertises its own address; a bare HOST:PORT (`--advertised-listener`) is the first listener's."),
    broker("listener.security.protocol.map", String, "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL", true,
        "The security protocol of each listener name, as NAME:PROTOCOL separated by commas (protocols: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL), e.g. INTERNAL:SASL_SSL. As in Kafka, a value given replaces the whole default map. Every setting marked per-listener may be given for one listener as listener.name.<name>.<setting> (name in lower case), which wins over the broker-wide value."),
    broker("ssl.keystore.type", String, "PEM", true,
        "Per-listener. The format of the broker's key and certificate chain on SSL and SASL_SSL listeners; only PEM (rustls reads no JKS or PKCS12)."),
    broker("ssl.keystore.location", String, "", true,
        "Per-listener. A PEM file holding the broker's private key (unencrypted PKCS#8, PKCS#1 or SEC1) and its certificate chain, leaf first. Read at start-up, and again when the file changes (checked every 2 s): new connections then get the new certificate; a file that does not load is logged and the previous one kept."),
    broker("ssl.keystore.certificate.chain", Password, "", true,
        "Per-listener. The broker's certificate chain as PEM text, instead of ssl.keystore.location (with ssl.keystore.key)."),
    broker("ssl.keystore.key", Password, "", true,
        "Per-listener. The broker's unencrypted private key as PEM text, with ssl.keystore.certificate.chain."),
    broker("ssl.truststore.type", String, "PEM", true,
        "Per-listener. The format of the certificates client certificates are verified against; only PEM."),
    broker("ssl.truststore.location", String, "", true,
        "Per-listener. A PEM file of CA certificates that client certificates must chain to (needed when ssl.client.auth is requested or required). Re-read when it changes, as ssl.keystore.location."),
    broker("ssl.truststore.certificates", Password, "", true,
        "Per-listener. The trusted CA certificates as PEM text, instead of ssl.truststore.location."),
    broker("ssl.client.auth", String, "none", true,
        "Per-listener. none: no client certificate is asked for; requested: one is asked for and verified if sent; required: a client without a valid certificate fails the TLS handshake (mTLS). On an SSL listener the principal is the certificate's subject as Kafka writes it (User:CN=...,OU=...), or User:ANONYMOUS without one."),
    broker("ssl.principal.mapping.rules", String, "DEFAULT", true,
        "Per-listener. Kafka's rules turning a client certificate's subject into the principal's name: comma-separated RULE:pattern/replacement/ (optionally ending in L or U to lower- or upper-case the result) and DEFAULT (the subject unchanged), the first rule whose pattern matches the whole subject wins, e.g. RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,DEFAULT. A subject no rule matches fails the connection."),
    broker("ssl.enabled.protocols", List, "TLSv1.2,TLSv1.3", true,
        "Per-listener. The TLS versions accepted: TLSv1.2 and/or TLSv1.3 (rustls speaks no older version)."),
    broker("sasl.enabled.mechanisms", List, "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512", true,
        "Per-listener. The SASL mechanisms SASL_PLAINTEXT and SASL_SSL listeners offer (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER). An enabled mechanism with no users authenticates nobody. PLAIN users come from <mechanism>.sasl.jaas.config; SCRAM users are managed with AlterUserScramCredentials (`sluice user add`); OAUTHBEARER tokens are checked by Kafka's unsecured validator (development only; options from oauthbearer.sasl.jaas.config) or, with sasl.oauthbearer.jwks.endpoint.url, against a JWKS."),
    broker("sasl.oauthbearer.jwks.endpoint.url", String, "", true,
        "Per-listener. A file:// URL of a JSON Web Key Set: OAUTHBEARER tokens must then be JWTs signed by one of its keys (RS256, ES256, ...; chosen by the token's kid), with exp and iat. The file is re-read when a token names a key it lacks. Empty: Kafka's unsecured validator (alg none; for development)."),
    broker("sasl.oauthbearer.expected.audience", List, "", true,
        "Per-listener. With a JWKS: the audiences (comma-separated) of which a token's aud claim must name one. Empty: aud is not checked."),
    broker("sasl.oauthbearer.expected.issuer", String, "", true,
        "Per-listener. With a JWKS: the value a token's iss claim must have. Empty: iss is not checked."),
    broker("sasl.oauthbearer.sub.claim.name", String, "sub", true,
        "Per-listener. With a JWKS: the claim holding the principal's name (User:<value>)."),
    broker("sasl.oauthbearer.scope.claim.name", String, "scope", true,
        "Per-listener. With a JWKS: the claim holding the token's scope. Accepted under Kafka's name; a scope grants nothing here (ACLs decide), and the unsecured validator's required scope is its JAAS option unsecuredValidatorRequiredScope."),
    broker("sasl.oauthbearer.clock.skew.seconds", Int, "30", true,
        "Per-listener. With a JWKS: the clock difference allowed when checking a token's exp and iat."),
    broker("sasl.jaas.config", Password, "", true,
        "Per-listener. The JAAS line for every mechanism that has no <mechanism>.sasl.jaas.config of its own. For PLAIN, Kafka's `org.apache.kafka.common.security.plain.PlainLoginModule required user_alice=\"alice-secret\";` lists the users. Kafka's per-mechanism names work too: plain.sasl.jaas.config and listener.name.<listener>.plain.sasl.jaas.config (one value, spaces, quotes and = included)."),
    broker("delegation.token.secret.key", Password, "", true,
        "Turns delegation tokens on (CreateDelegationToken, RenewDelegationToken, ExpireDelegationToken, DescribeDelegationToken; SCRAM authentication with tokenauth=true). A token's HMAC is HMAC-SHA512 of its id keyed with this secret, so changing it invalidates every token. Empty: the token APIs answer DELEGATION_TOKEN_AUTH_DISABLED."),
    broker("delegation.token.max.lifetime.ms", Long, "604800000", true,
        "The longest a delegation token may live, renewals included (a CreateDelegationToken asking for more gets this)."),
    broker("delegation.token.expiry.time.ms", Long, "86400000", true,
        "How long a delegation token lives until renewed, and the renewal period when a RenewDelegationToken asks for the default (-1). Expired tokens are removed."),
    broker("authorizer.class.name", String, "", true,
        "Turns ACLs on when set to Kafka's org.apache.kafka.metadata.authorizer.StandardAuthorizer (or kafka.security.authorizer.AclAuthorizer; both mean the same here): every request is then checked against the ACLs that CreateAcls/DeleteAcls (`sluice acl`) manage, with Kafka's rules and error codes. Empty: no authorizer, everything is allowed and the ACL APIs answer SECURITY_DISABLED."),
    broker("super.users", String, "", true,
        "Principals allowed everything whatever the ACLs say, separated by semicolons, e.g. User:admin;User:CN=ops,O=acme."),
    broker("allow.everyone.if.no.acl.found", Boolean, "false", true,
        "With an authorizer: whether a resource that no ACL names at all (for any principal or operation) is open to everyone. false (Kafka's default): only ACLs and super.users grant access."),
    broker("quota.window.num", Int, "11", true,
        "Client quotas (producer_byte_rate, consumer_byte_rate, request_percentage) are measured over this many windows of quota.window.size.seconds, as Kafka measures them: a client's rate is what it did in those windows, and a new client is measured as if over window.num - 1 whole windows."),
    broker("quota.window.size.seconds", Int, "1", true,
        "The length of one client quota window."),
    broker("controller.quota.window.num", Int, "11", true,
        "The windows controller_mutation_rate (partitions created or deleted per second) is measured over."),
    broker("controller.quota.window.size.seconds", Int, "1", true,
        "The length of one controller_mutation_rate window."),
    broker("sluice.quota.max.entities", Int, "10000", true,
        "Sluice-specific (Kafka has no such bound). The most entities (users, client-ids and their pairs, defaults included) client quotas may be set on. An AlterClientQuotas that would set a quota on one more is refused for that entity with POLICY_VIOLATION; changing or removing quotas of existing entities always works."),
    broker("sluice.quota.max.tracked.clients", Int, "100000", true,
        "Sluice-specific (Kafka bounds its quota sensors only by their one-hour expiry). The most (quota, user, client-id) rate sensors kept at once while client quotas are set. Sensors idle for an hour are dropped, as Kafka drops them; when the bound is reached anyway, the longest-idle sensor is dropped and that client's measurement starts afresh."),
    broker("connection.failed.authentication.delay.ms", Int, "100", true,
        "After a failed SASL authentication, the broker answers at once (SASL_AUTHENTICATION_FAILED with the reason) and closes the connection this much later, as Kafka does: clients that notice the close before reading the answer (kafka-python) then still report the authentication failure, and a client retrying wrong credentials is slowed down."),
    broker("sasl.server.max.receive.size", Int, "524288", true,
        "The largest request frame a SASL listener accepts before its connection has authenticated (SaslHandshake, SaslAuthenticate and ApiVersions are all a client may send then); a bigger frame closes the connection, as Kafka closes it. After authentication socket.request.max.bytes applies."),
    broker("connections.max.reauth.ms", Long, "0", true,
        "Per-listener. When above 0, a SASL session ends after this long: SaslAuthenticate v1+ tells the client the session lifetime, and a request after it closes the connection (clients re-authenticate before, KIP-368). 0: sessions do not expire."),
    broker("log.dirs", String, "./sluice-data", true,
        "The log directories, separated by commas (`--data-dir` sets one). New partitions go to the directory holding the fewest partitions, as Kafka places them; AlterReplicaLogDirs moves a partition between them online. The first one also holds the broker's metadata (meta.properties, topics/, features, ACLs, SCRAM users), as Kafka's metadata.log.dir defaults to the first; every one holds its own .lock and meta.properties. When not set, log.dir is used."),
    broker("log.dir", String, "./sluice-data", true,
        "The single log directory used when log.dirs is not set, as in Kafka."),
    broker("node.id", Int, "1", true,
        "This broker's id in Metadata answers. Sluice is a single-node cluster, so it is also the controller id."),
    broker("broker.id", Int, "1", true,
        "Synonym of node.id kept for tools that read it."),
    broker("auto.create.topics.enable", Boolean, "true", false,
        "Create a topic when a Metadata request (that allows it) or a Produce names one that does not exist."),
    broker("num.partitions", Int, "1", false,
        "Partition count of topics created automatically or by CreateTopics with num_partitions = -1."),
    broker("default.replication.factor", Int, "1", true,
        "Replication factor reported for new topics. Sluice keeps one replica; CreateTopics accepts 1 or -1 only."),
    broker("socket.request.max.bytes", Int, "104857600", false,
        "The largest request frame accepted. A bigger frame closes the connection, as Kafka does."),
    broker("max.request.partition.size.limit", Int, "2000", true,
        "The most partitions one DescribeTopicPartitions answer describes (the request's own limit applies when lower); the rest are reached with the answer's cursor."),
    broker("max.connections", Int, "2147483647", true,
        "The most client connections the broker holds at once. A connection accepted beyond it is closed at once, before any request is read, with a warning naming the peer; the connections already open are served as before. (Kafka instead leaves it waiting in the listen backlog until a connection closes.)"),
    broker("max.connections.per.ip", Int, "2147483647", true,
        "The most connections from one IP address. A new connection from an address that already has this many is closed at once with a warning, as Kafka drops it. 0 is allowed only with max.connections.per.ip.overrides, so that only the addresses listed there may connect."),
    broker("max.connections.per.ip.overrides", String, "", true,
        "Per-address exceptions to max.connections.per.ip, as IP:COUNT pairs separated by commas, e.g. \"127.0.0.1:200,::1:200\". Unlike Kafka, hosts must be IP addresses, not host names."),
    broker("queued.max.request.bytes", Long, "524288000", true,
        "The most bytes of requests being read or handled at once, over all connections (Kafka's memory pool). A connection that has read a request's size waits for that many bytes before it reads the rest, first come first served, and reads nothing meanwhile, so one connection flooding big requests cannot starve the others; a request bigger than the whole budget waits for all of it. Each connection handles one request at a time, so it holds at most one request's bytes. -1 (Kafka's default): no bound."),
    broker("connections.max.idle.ms", Long, "600000", true,
        "Close a connection that has had no request and no answer traffic for this long. A connection with a request in progress (a long-polling Fetch, a Produce waiting for its fsync) or answers still being written is never idle. A negative value keeps idle connections open for good."),
    broker("message.max.bytes", Int, "1048588", false,
        "Broker default of max.message.bytes: the largest record batch a Produce may carry."),
    broker("fetch.max.bytes", Int, "57671680", false,
        "Upper bound on the bytes one Fetch answer carries, whatever the client asks for."),
    broker("max.incremental.fetch.session.cache.slots", Int, "1000", false,
        "How many incremental fetch sessions (KIP-227) the broker keeps; when full, new sessions are refused and clients fall back to full fetches."),
    broker("log.retention.check.interval.ms", Long, "300000", false,
        "How often retention deletes old segments."),
    broker("log.flush.offset.checkpoint.interval.ms", Int, "60000", true,
        "How often each partition's recovery point (the offset below which its log is known to be fsync'd) is written to its checkpoint file, when it moved. After a crash, segments that rolled after the last checkpoint are scanned again whole (the active segment always is), so a shorter interval shortens crash recovery after heavy writing, at the cost of a temp-file write, two fsyncs and a rename per written partition per interval, which compete with acks=all fsyncs for the disk's journal."),
    broker("log.flush.scheduler.interval.ms", Long, "1000", false,
        "How often the background flusher looks for data older than flush.ms that still needs an fsync."),
    broker("sluice.acks.all.fsync", Boolean, "true", false,
        "Sluice-specific. When true, an acks=all produce is answered only after its data is fsync'd (concurrent producers share one fsync: group commit). acks=0/1 are answered once the data is written to the OS page cache, which survives a crash of the broker process but not of the machine; flush.messages and flush.ms bound that window."),
    broker("sluice.acks.all.concurrent.fsyncs", Int, "1", true,
        "Sluice-specific. How many acks=all fdatasyncs of one partition may be in flight at once (1 to 8). With 1, a request that arrives while an fsync runs waits for it to end and then for the next one; with 2, the next one starts at once, so it waits for about one fsync, at the cost of more fsyncs. Measured on an ext4 disk (docs/benchmarks.md): 2 lowered the p99 at 1,000 records/s and raised it at 5,000/s, where the extra fsyncs' journal commits cost more than they save."),
    broker("producer.id.expiration.ms", Long, "86400000", false,
        "Forget an idempotent producer's sequence state this long after its last batch (its next batch is then accepted as from a new producer)."),
    broker("sluice.producer.state.max.producers", Int, "100000", false,
        "Sluice-specific (Kafka bounds producer state only by producer.id.expiration.ms). The most idempotent or transactional producers one partition remembers. A batch from a producer the partition does not know yet is refused with POLICY_VIOLATION while it remembers this many (a warning is logged); producers it knows keep producing, transaction markers are always written, and room comes back as idle producers expire. POLICY_VIOLATION is not retriable: the client fails that batch at once instead of retrying until its delivery timeout, and a transactional producer can abort the transaction and go on."),
    broker("sluice.producer.state.max.ongoing.transactions", Int, "10000", false,
        "Sluice-specific (Kafka has no such bound). The most transactions open at once in one partition. A transactional batch that would open one more is refused with POLICY_VIOLATION (a warning is logged): nothing is written, the producer must abort that transaction (librdkafka and the Java client treat the error as abortable, not fatal), and open transactions are not affected."),
    broker("sluice.log.aborted.txn.memory.entries", Int, "10000", false,
        "Sluice-specific. How many aborted transactions per partition are kept in memory (the newest; 32 bytes each) for read_committed fetches. Older ones stay in the segments' .txnindex files and are read from there by fetches that reach them, so answers are the same; only such fetches of old data pay for the file reads. 0 keeps none in memory."),
    broker("sluice.log.max.open.files", Int, "0", true,
        "Sluice-specific (Kafka holds every segment's files open). The most file descriptors the log holds at once. Closed (non-active) segments hold none (they are read through their memory maps); a new partition holds none until its first append; an active segment holds one (its .log) and, while the log is over this budget, closes it once no append came for 10 s and nothing waits for an fdatasync (over twice the budget: after 1 s, flushing first), the next append opening it again. 0 (the default): a quarter of the soft RLIMIT_NOFILE after start-up raised it to the hard limit, at least 64; the rest is left for sockets. Start-up logs the budget; /metrics reports sluice_log_open_files."),
    broker("sluice.log.max.mmaps", Int, "0", true,
        "Sluice-specific (Kafka maps every segment's indexes). The most memory maps the log holds at once: closed segments' .log, .index and .timeindex maps are opened on first use and the least recently used are closed when this is exceeded (a fetch still sending bytes out of a map keeps it until it is done); active segments' maps count but are never closed. 0 (the default): half of vm.max_map_count (65530 on most Linux systems), at least 64; the rest is left to the allocator, thread stacks and libraries. Start-up logs the budget; /metrics reports sluice_log_mmaps."),
    broker("sluice.http.listen", String, "127.0.0.1:9644", true,
        "Sluice-specific. The admin HTTP side (/metrics, /health, /ready): HOST:PORT to listen on, `sluice serve --http HOST:PORT` sets it, empty disables it. If the default port is taken the broker warns and runs without it; an address set explicitly that cannot be bound stops start-up. The Kafka listener never depends on it."),
    broker("sluice.otlp.endpoint", String, "", true,
        "Sluice-specific. When set, every Kafka request's span (named after the API, with its request id, API key, API version and client id) is exported with OTLP/HTTP protobuf to this base URL (http://HOST:PORT; /v1/traces is added unless the URL ends with it). Spans are sent in batches from a bounded queue; when the collector is slow or away, spans are dropped, requests never wait. Empty (the default): nothing is exported. The OTEL_BSP_* environment variables tune the batches."),
    broker("sluice.otlp.service.name", String, "sluice", true,
        "Sluice-specific. The service.name resource attribute of the exported request spans (see sluice.otlp.endpoint)."),
    broker("sluice.otlp.max.queue.spans", Int, "2048", true,
        "Sluice-specific. The most ended request spans waiting to be exported with OTLP; spans ending while it is full are dropped (see sluice.otlp.endpoint)."),
    broker("sluice.metrics.max.partition.series", Int, "10000", false,
        "Sluice-specific. The most partitions /metrics reports one by one (kafka_topic_partition_*, kafka_consumergroup_current_offset and _lag, sluice_log_*), in topic-name order; the partitions beyond it are reported only through per-topic series (kafka_topic_partitions, kafka_consumergroup_lag_sum, sluice_topic_log_size_bytes), so a scrape stays bounded however many partitions there are. 0 reports none one by one."),
    broker("telemetry.max.bytes", Int, "1048576", true,
        "The most bytes of metrics one PushTelemetry request may carry (KIP-714); a larger one gets TELEMETRY_TOO_LARGE. GetTelemetrySubscriptions tells clients this limit. A compressed payload may decompress to at most 8 times this, or it gets INVALID_RECORD."),
    broker("sluice.telemetry.max.client.instances", Int, "16384", true,
        "Sluice-specific. The most client instances (KIP-714 telemetry) the broker remembers, with their pushed metrics; one more evicts the least recently seen. An instance is forgotten max(60 s, 3 push intervals) after its last telemetry request, and its re-exported series on /metrics with it."),
    broker("sluice.telemetry.max.series", Int, "10000", true,
        "Sluice-specific. The most series of client-pushed metrics (KIP-714) kept for /metrics, over all clients; a new series beyond it is dropped until expired clients free room. A series with more than 16 labels or 1024 bytes of name and labels is dropped too."),
    broker("sluice.telemetry.max.subscriptions", Int, "1000", true,
        "Sluice-specific. The most client-metrics resources (KIP-714 subscriptions, set with IncrementalAlterConfigs on CLIENT_METRICS resources); creating one more gets INVALID_REQUEST."),
    broker("sluice.console.max.messages", Int, "500", true,
        "Sluice-specific. The most records one page of the web console's message browser (GET /api/topics/{topic}/messages) returns; a larger `limit` gets a 400."),
    broker("sluice.console.max.read.bytes", Int, "4194304", true,
        "Sluice-specific. The most record-batch bytes one page of the web console's message browser reads from the log; a larger `max_bytes` gets a 400."),
    broker("sluice.console.max.search.records", Int, "10000", true,
        "Sluice-specific. The most records one key search of the web console's message browser looks at; a larger `search_records` gets a 400."),
    broker("sluice.console.max.tail.streams", Int, "16", true,
        "Sluice-specific. The most live tails (GET /api/topics/{topic}/tail, server-sent events) open at once; one more gets a 429."),
    broker("sluice.console.session.ms", Long, "28800000", true,
        "Sluice-specific. How long a web console login lasts (the session cookie's lifetime) when the broker has a SASL listener and the console requires a login."),
    broker("sluice.console.max.sessions", Int, "1000", true,
        "Sluice-specific. The most web console login sessions kept at once; a new login beyond it drops the oldest session."),
    broker("sluice.schema.registry.listen", String, "127.0.0.1:8081", true,
        "Sluice-specific. The address of the built-in schema registry (Confluent Schema Registry's REST API; schemas live in the compacted topic _schemas). `sluice serve --schema-registry HOST:PORT` sets it; empty disables the registry. If the default port is taken the broker logs a warning and runs without it; an explicit address that cannot be bound stops start-up."),
    broker("sluice.schema.registry.max.schema.bytes", Int, "1048576", true,
        "Sluice-specific. The largest schema text the schema registry accepts (42209 beyond it); a request body may be at most twice this."),
    broker("cluster.id", String, "", true,
        "The cluster id, generated on first start and kept in meta.properties."),
    broker("group.min.session.timeout.ms", Int, "6000", false,
        "The smallest session.timeout.ms a consumer group member may ask for (INVALID_SESSION_TIMEOUT below it)."),
    broker("group.max.session.timeout.ms", Int, "1800000", false,
        "The largest session.timeout.ms a consumer group member may ask for (INVALID_SESSION_TIMEOUT above it)."),
    broker("group.initial.rebalance.delay.ms", Int, "3000", false,
        "How long the first rebalance of an empty group waits for more members to join (extended by each new member, up to the rebalance timeout). 0 completes the first join at once."),
    broker("group.max.size", Int, "2147483647", false,
        "The most members a consumer group may have; a member joining beyond it gets GROUP_MAX_SIZE_REACHED."),
    broker("group.consumer.session.timeout.ms", Int, "45000", false,
        "KIP-848 consumer groups (group.protocol=consumer): a member that sends no heartbeat for this long is removed and its partitions move to the others. The broker decides it; it must lie within group.consumer.min/max.session.timeout.ms."),
    broker("group.consumer.min.session.timeout.ms", Int, "45000", false,
        "The smallest group.consumer.session.timeout.ms accepted (start-up fails below it)."),
    broker("group.consumer.max.session.timeout.ms", Int, "60000", false,
        "The largest group.consumer.session.timeout.ms accepted (start-up fails above it)."),
    broker("group.consumer.heartbeat.interval.ms", Int, "5000", false,
        "How often KIP-848 consumer group members are told to heartbeat; must lie within group.consumer.min/max.heartbeat.interval.ms and be below group.consumer.session.timeout.ms."),
    broker("group.consumer.min.heartbeat.interval.ms", Int, "5000", false,
        "The smallest group.consumer.heartbeat.interval.ms accepted (start-up fails below it)."),
    broker("group.consumer.max.heartbeat.interval.ms", Int, "15000", false,
        "The largest group.consumer.heartbeat.interval.ms accepted (start-up fails above it)."),
    broker("group.consumer.assignors", List, "uniform,range", false,
        "The server-side assignors of KIP-848 consumer groups, `uniform` and `range` (Kafka's class names org.apache.kafka.coordinator.group.assignor.UniformAssignor/RangeAssignor are accepted too). The first is used unless members ask for another by name (group.remote.assignor); a member asking for one not listed gets UNSUPPORTED_ASSIGNOR."),
    broker("group.consumer.max.size", Int, "2147483647", false,
        "The most members a KIP-848 consumer group may have; a member joining beyond it gets GROUP_MAX_SIZE_REACHED."),
    broker("group.consumer.migration.policy", String, "bidirectional", false,
        "Online conversion between classic and KIP-848 consumer groups (disabled, upgrade, downgrade, bidirectional). upgrade: a classic group with members becomes a consumer group when the first group.protocol=consumer member joins (else that member gets GROUP_ID_NOT_FOUND); downgrade: a consumer group whose last consumer-protocol member leaves becomes a classic group again and its classic members rejoin."),
    broker("group.share.session.timeout.ms", Int, "45000", false,
        "KIP-932 share groups: a member that sends no ShareGroupHeartbeat for this long is removed, its share sessions close and the records it holds return to the group. A member that left (leave heartbeat) keeps its share session for its final ShareFetch/ShareAcknowledge at most this long. Within group.share.min/max.session.timeout.ms."),
    broker("group.share.min.session.timeout.ms", Int, "45000", false,
        "The smallest group.share.session.timeout.ms accepted (start-up fails below it)."),
    broker("group.share.max.session.timeout.ms", Int, "60000", false,
        "The largest group.share.session.timeout.ms accepted (start-up fails above it)."),
    broker("group.share.heartbeat.interval.ms", Int, "5000", false,
        "How often share group members are told to heartbeat; within group.share.min/max.heartbeat.interval.ms and below group.share.session.timeout.ms."),
    broker("group.share.min.heartbeat.interval.ms", Int, "5000", false,
        "The smallest group.share.heartbeat.interval.ms accepted (start-up fails below it)."),
    broker("group.share.max.heartbeat.interval.ms", Int, "15000", false,
        "The largest group.share.heartbeat.interval.ms accepted (start-up fails above it)."),
    broker("group.share.record.lock.duration.ms", Int, "30000", false,
        "How long a share group member holds a record it acquired (ShareFetch) before the record returns to the group for redelivery. Within group.share.min/max.record.lock.duration.ms; a group may override it with its share.record.lock.duration.ms config."),
    broker("group.share.min.record.lock.duration.ms", Int, "15000", false,
        "The smallest group.share.record.lock.duration.ms accepted (start-up fails below it)."),
    broker("group.share.max.record.lock.duration.ms", Int, "60000", false,
        "The largest group.share.record.lock.duration.ms accepted (start-up fails above it)."),
    broker("group.share.delivery.count.limit", Int, "5", false,
        "How many times a record of a share group is delivered at most: a record released (or whose lock expired) after this many deliveries is archived, never delivered again. 2 to 10."),
    broker("group.share.partition.max.record.locks", Int, "2000", false,
        "The most in-flight records (acquired, or delivered and not yet past the share-partition start offset) a share-partition keeps; acquisition stops there until acknowledgements move the start offset. 100 to 10000."),
    broker("group.share.max.groups", Int, "10", false,
        "The most share groups the broker holds; a member creating one more gets GROUP_MAX_SIZE_REACHED. 1 to 100."),
    broker("group.share.max.size", Int, "200", false,
        "The most members a share group may have; a member joining beyond it gets GROUP_MAX_SIZE_REACHED. 10 to 1000."),
    broker("share.coordinator.state.topic.num.partitions", Int, "50", false,
        "Partition count of the internal __share_group_state topic (the share coordinator's ShareSnapshot/ShareUpdate records), used when it is created on the first share group write."),
    broker("sluice.group.max.groups", Int, "1000000", false,
        "Sluice-specific (Kafka 4 bounds only share groups, with group.share.max.groups). The most consumer groups the group coordinator holds. Creating one more (JoinGroup, an OffsetCommit with generation -1 or a TxnOffsetCommit naming a new group id) is refused with GROUP_MAX_SIZE_REACHED and a warning is logged; existing groups keep working, and deleting or expiring a group makes room. GROUP_MAX_SIZE_REACHED is the error Java consumers treat as fatal and librdkafka reports to the application (\"JoinGroup failed\") instead of retrying silently. Groups loaded from __consumer_offsets at start-up are always loaded, even beyond the bound."),
    broker("offsets.retention.minutes", Int, "10080", false,
        "Committed offsets of a group that has been empty this long (or, for groups that only store offsets, not committed to for this long) are deleted."),
    broker("offsets.retention.check.interval.ms", Long, "600000", false,
        "How often expired committed offsets are looked for."),
    broker("offsets.topic.num.partitions", Int, "50", false,
        "Partition count of the internal __consumer_offsets topic, used when it is created (on the first group write). An existing topic keeps its count."),
    broker("offsets.topic.segment.bytes", Int, "104857600", false,
        "segment.bytes of the internal __consumer_offsets topic, used when it is created. The topic is compacted: closed segments keep the latest commit per group and partition, so start-up replays at most about one segment of history per partition."),
    broker("offset.metadata.max.bytes", Int, "4096", false,
        "The largest metadata string an offset commit may carry (OFFSET_METADATA_TOO_LARGE above it)."),
    broker("transaction.max.timeout.ms", Int, "900000", false,
        "The largest transaction.timeout.ms a transactional producer may ask for (INVALID_TRANSACTION_TIMEOUT above it)."),
    broker("transactional.id.expiration.ms", Int, "604800000", false,
        "A transactional id with no transaction for this long is forgotten (a tombstone is written to __transaction_state)."),
    broker("transaction.state.log.num.partitions", Int, "50", false,
        "Partition count of the internal __transaction_state topic, used when it is created (on the first transactional InitProducerId). An existing topic keeps its count."),
    broker("transaction.state.log.segment.bytes", Int, "104857600", false,
        "segment.bytes of the internal __transaction_state topic, used when it is created. The topic is compacted: closed segments keep the latest state per transactional id."),
    broker("transaction.abort.timed.out.transaction.cleanup.interval.ms", Int, "10000", false,
        "How often transactions older than their transaction.timeout.ms are looked for (and aborted, fencing their producer), and idle transactional ids expired."),
    broker("log.cleaner.enable", Boolean, "true", true,
        "Run the log cleaner, which compacts topics whose cleanup.policy contains compact. With false, compacted topics grow without bound."),
    broker("log.cleaner.backoff.ms", Long, "15000", true,
        "How long the log cleaner sleeps when no partition needs cleaning."),
    broker("log.cleaner.dedupe.buffer.size", Long, "134217728", true,
        "Memory of the log cleaner's offset map (24 bytes per key), which bounds the cleaner's memory: one cleaner thread cleans one partition at a time. When the dirty part of a partition has more keys than fit, the prefix that fits is cleaned and the rest on a later pass."),
    broker("log.cleaner.io.buffer.load.factor", Double, "0.9", true,
        "How full the log cleaner's offset map may get before a pass stops adding keys."),
];

/// Topic settings with the broker setting that supplies their default.
pub const TOPIC_CONFIGS: &[ConfigDef] = &[
    topic("cleanup.policy", "log.cleanup.policy", List, "delete", false,
        "delete removes old segments by retention.ms/retention.bytes. compact makes the log cleaner keep only the latest record per key in closed segments (and refuses records without a key); a compact-only topic is never trimmed by retention. \"compact,delete\" does both. An empty list (Kafka 4.1+) does neither: the log is kept whole."),
    topic("retention.ms", "log.retention.ms", Long, "604800000", false,
        "Delete a closed segment once its newest record is older than this. -1 keeps data forever."),
    topic("retention.bytes", "log.retention.bytes", Long, "-1", false,
        "Delete the oldest closed segments while the partition is larger than this. -1 means no size limit."),
    topic("segment.bytes", "log.segment.bytes", Int, "1073741824", false,
        "Roll to a new segment when the active one would grow past this size."),
    topic("segment.ms", "log.roll.ms", Long, "604800000", false,
        "Roll to a new segment when the active one's first record is older than this."),
    topic("segment.index.bytes", "log.index.size.max.bytes", Int, "10485760", false,
        "Size preallocated for each segment's offset and time index; a full index rolls the segment."),
    topic("index.interval.bytes", "log.index.interval.bytes", Int, "4096", false,
        "Add an offset index entry every this many bytes of log."),
    topic("max.message.bytes", "message.max.bytes", Int, "1048588", false,
        "The largest record batch accepted for this topic (MESSAGE_TOO_LARGE above it)."),
    topic("message.timestamp.type", "log.message.timestamp.type", String, "CreateTime", false,
        "CreateTime keeps the producer's timestamps; LogAppendTime makes the broker stamp each batch on append."),
    topic("flush.messages", "log.flush.interval.messages", Long, "9223372036854775807", false,
        "fsync a partition after this many messages. The default leaves it to flush.ms and sluice.acks.all.fsync."),
    topic("flush.ms", "log.flush.interval.ms", Long, "1000", false,
        "fsync a partition whose oldest unflushed data is older than this."),
    topic("compression.type", "compression.type", String, "producer", false,
        "The codec batches are stored with: producer keeps what the producer sent; uncompressed, gzip, snappy, lz4 or zstd make the broker rebuild batches sent with another codec (costing CPU on produce)."),
    topic("min.insync.replicas", "min.insync.replicas", Int, "1", true,
        "Accepted for compatibility; with a single replica it is always satisfied."),
    topic("unclean.leader.election.enable", "unclean.leader.election.enable", Boolean, "false", true,
        "Accepted for compatibility; a single-node broker has no elections."),
    topic("delete.retention.ms", "log.cleaner.delete.retention.ms", Long, "86400000", false,
        "Compacted topics: the log cleaner removes a tombstone (a record with a null value), and a transaction marker whose records are all gone, once its record timestamp is older than this."),
    topic("min.compaction.lag.ms", "log.cleaner.min.compaction.lag.ms", Long, "0", false,
        "Compacted topics: a closed segment whose newest record is younger than this is not cleaned yet."),
    topic("max.compaction.lag.ms", "log.cleaner.max.compaction.lag.ms", Long, "9223372036854775807", false,
        "Compacted topics: clean a partition whatever its dirty ratio once its oldest uncleaned closed segment's newest record is older than this."),
    topic("min.cleanable.dirty.ratio", "log.cleaner.min.cleanable.ratio", Double, "0.5", false,
        "Compacted topics: clean a partition when the uncleaned part of its closed segments reaches this fraction of their size."),
    topic("file.delete.delay.ms", "log.segment.delete.delay.ms", Long, "60000", true,
        "Accepted for compatibility; Sluice unlinks deleted segments at once (readers keep their mappings)."),
    topic("preallocate", "log.preallocate", Boolean, "false", false,
        "Grow the active segment's .log ahead of its appends, 4 MiB at a time, with zeros actually written (Kafka only sets the length), and trim the zeros at roll and clean shutdown. An fdatasync then writes data only, without committing a new file length and blocks to the file system's journal: on ext4 this shortened the acks=all fsyncs (p99 2.7 -> 1.5 ms at 5,000 records/s; docs/benchmarks.md), at the cost of writing each byte of the log twice (zeros, then data). After a crash, recovery cuts the zeros as it cuts any torn tail."),
    topic("message.timestamp.before.max.ms", "log.message.timestamp.before.max.ms", Long, "9223372036854775807", false,
        "CreateTime topics: a produce whose record timestamps are more than this many ms before the broker's clock is refused with INVALID_TIMESTAMP."),
    topic("message.timestamp.after.max.ms", "log.message.timestamp.after.max.ms", Long, "9223372036854775807", false,
        "CreateTime topics: a produce whose record timestamps are more than this many ms after the broker's clock is refused with INVALID_TIMESTAMP."),
    topic("confluent.key.schema.validation", "confluent.key.schema.validation", Boolean, "false", false,
        "Confluent Server's broker-side schema id validation: with true, a produced record whose key is not null and does not start with the magic byte 0 and a 4-byte schema id registered (a version not soft-deleted) under the subject confluent.key.subject.name.strategy gives is refused, with its whole batch, with INVALID_RECORD naming each such record. Null keys pass. A broker with no schema registry (sluice.schema.registry.listen empty) refuses every produce to such a topic."),
    topic("confluent.value.schema.validation", "confluent.value.schema.validation", Boolean, "false", false,
        "As confluent.key.schema.validation, for record values. Null values (tombstones) pass, as in Confluent Server."),
    topic("confluent.key.subject.name.strategy", "confluent.key.subject.name.strategy", String, "io.confluent.kafka.serializers.subject.TopicNameStrategy", false,
        "The subject a key's schema id must be registered under: TopicNameStrategy (<topic>-key), TopicRecordNameStrategy (any subject <topic>-<record name>) or RecordNameStrategy (any subject: the record name lies past the 5-byte prefix the broker reads), as io.confluent.kafka.serializers.subject.<name>."),
    topic("confluent.value.subject.name.strategy", "confluent.value.subject.name.strategy", String, "io.confluent.kafka.serializers.subject.TopicNameStrategy", false,
        "As confluent.key.subject.name.strategy, for record values (TopicNameStrategy: <topic>-value)."),
];

/// Looks a topic setting up by its topic-level name.
pub fn topic_config(name: &str) -> Option<&'static ConfigDef> {
    TOPIC_CONFIGS.iter().find(|d| d.name == name)
}

/// Looks a broker setting up by its broker-level name, including the broker-level
/// names of topic defaults (`log.retention.ms`, ...). Returns the definition and, for a
/// topic default, the topic-level name it feeds.
pub fn broker_config(name: &str) -> Option<(&'static ConfigDef, Option<&'static str>)> {
    if let Some(d) = BROKER_CONFIGS.iter().find(|d| d.name == name) {
        return Some((d, None));
    }
    TOPIC_CONFIGS.iter().find_map(|d| match d.scope {
        Scope::Topic { broker_name } if broker_name == name => Some((d, Some(d.name))),
        _ => None,
    })
}

/// Every broker-level name, in table order (broker settings, then topic defaults).
pub fn all_broker_names() -> impl Iterator<Item = &'static str> {
    BROKER_CONFIGS
        .iter()
        .map(|d| d.name)
        .chain(TOPIC_CONFIGS.iter().filter_map(|d| match d.scope {
            Scope::Topic { broker_name } => Some(broker_name),
            Scope::Broker => None,
        }))
}

/// Checks that `value` parses as the setting's type and passes its range rules.
/// Returns Kafka's wording for INVALID_CONFIG on failure.
pub fn validate(def: &ConfigDef, value: &str) -> Result<(), std::string::String> {
    let bad = |why: &str| {
        Err(format!(
            "Invalid value {value} for configuration {}: {why}",
            def.name
        ))
    };
    match def.config_type {
        Boolean => match value {
            "true" | "false" => Ok(()),
            _ => bad("Expected value to be either true or false"),
        },
        Int => match value.trim().parse::<i32>() {
            Ok(v) => check_range(def.name, v as i64).or_else(|w| bad(&w)),
            Err(_) => bad("Not a number of type INT"),
        },
        Long => match value.trim().parse::<i64>() {
            Ok(v) => check_range(def.name, v).or_else(|w| bad(&w)),
            Err(_) => bad("Not a number of type LONG"),
        },
        Short => value
            .trim()
            .parse::<i16>()
            .map(|_| ())
            .or_else(|_| bad("Not a number of type SHORT")),
        Double => value
            .trim()
            .parse::<f64>()
            .map(|_| ())
            .or_else(|_| bad("Not a number of type DOUBLE")),
        String | Password | List => match def.name {
            "message.timestamp.type" => match value {
                "CreateTime" | "LogAppendTime" => Ok(()),
                _ => bad("String must be one of: CreateTime, LogAppendTime"),
            },
            "cleanup.policy" => {
                // Kafka 4.1+ (KIP-1161) accepts an empty list: neither delete nor compact,
                // so the log is never trimmed by retention and never compacted.
                if value.trim().is_empty()
                    || value
                        .split(',')
                        .map(str::trim)
                        .all(|p| p == "delete" || p == "compact")
                {
                    Ok(())
                } else {
                    bad("Invalid value for cleanup.policy, expected delete and/or compact")
                }
            }
            "max.connections.per.ip.overrides" => match super::parse_ip_overrides(value) {
                Ok(_) => Ok(()),
                Err(why) => bad(&why),
            },
            "group.consumer.migration.policy" => {
                match value.trim().to_ascii_lowercase().as_str() {
                    "disabled" | "upgrade" | "downgrade" | "bidirectional" => Ok(()),
                    _ => bad("String must be one of (case insensitive): DISABLED, DOWNGRADE, UPGRADE, BIDIRECTIONAL"),
                }
            }
            "ssl.client.auth" => match value.trim() {
                "none" | "requested" | "required" => Ok(()),
                _ => bad("String must be one of: required, requested, none"),
            },
            "ssl.keystore.type" | "ssl.truststore.type" => match value.trim() {
                "PEM" => Ok(()),
                _ => bad("only PEM is supported"),
            },
            "ssl.enabled.protocols" => {
                match value
                    .split(',')
                    .map(str::trim)
                    .find(|p| !matches!(*p, "TLSv1.2" | "TLSv1.3"))
                {
                    Some(p) => bad(&format!(
                        "unsupported protocol {p} (TLSv1.2 and TLSv1.3 only)"
                    )),
                    None => Ok(()),
                }
            }
            "authorizer.class.name" => match value.trim() {
                "" | "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
                | "kafka.security.authorizer.AclAuthorizer" => Ok(()),
                _ => bad("only org.apache.kafka.metadata.authorizer.StandardAuthorizer (or kafka.security.authorizer.AclAuthorizer) is supported"),
            },
            "sasl.enabled.mechanisms" => match value
                .split(',')
                .map(str::trim)
                .find(|m| {
                    !matches!(
                        *m,
                        "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512" | "OAUTHBEARER"
                    )
                }) {
                Some(m) => bad(&format!(
                    "unsupported SASL mechanism {m} (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER)"
                )),
                None => Ok(()),
            },
            "confluent.key.subject.name.strategy" | "confluent.value.subject.name.strategy" => {
                match crate::log::validator::schema_ids::SubjectNameStrategy::parse(value) {
                    Some(_) => Ok(()),
                    None => bad("String must be one of: io.confluent.kafka.serializers.subject.TopicNameStrategy, io.confluent.kafka.serializers.subject.RecordNameStrategy, io.confluent.kafka.serializers.subject.TopicRecordNameStrategy"),
                }
            }
            "compression.type" => match value {
                "producer" | "uncompressed" | "gzip" | "snappy" | "lz4" | "zstd" => Ok(()),
                _ => bad("String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer"),
            },
            _ => Ok(()),
        },
    }
}

fn check_range(name: &str, v: i64) -> Result<(), std::string::String> {
    let min: i64 = match name {
        "retention.ms" | "retention.bytes" => -1,
        "segment.bytes" => 14,
        "segment.ms" | "flush.messages" | "flush.ms" | "segment.index.bytes" => 1,
        "max.message.bytes" | "index.interval.bytes" => 0,
        "message.timestamp.before.max.ms" | "message.timestamp.after.max.ms" => 0,
        "num.partitions" => 1,
        "node.id" | "broker.id" => 0,
        "socket.request.max.bytes" | "message.max.bytes" | "fetch.max.bytes" => 1,
        "log.retention.check.interval.ms" | "log.flush.scheduler.interval.ms" => 1,
        "group.min.session.timeout.ms" | "group.max.session.timeout.ms" => 0,
        "group.consumer.session.timeout.ms" | "group.consumer.min.session.timeout.ms" => 1,
        "group.consumer.max.session.timeout.ms" | "group.consumer.heartbeat.interval.ms" => 1,
        "group.consumer.min.heartbeat.interval.ms" => 1,
        "group.consumer.max.heartbeat.interval.ms" | "group.consumer.max.size" => 1,
        "group.share.session.timeout.ms" | "group.share.min.session.timeout.ms" => 1,
        "group.share.max.session.timeout.ms" | "group.share.heartbeat.interval.ms" => 1,
        "group.share.min.heartbeat.interval.ms" | "group.share.max.heartbeat.interval.ms" => 1,
        "group.share.record.lock.duration.ms" | "group.share.min.record.lock.duration.ms" => 1000,
        "group.share.max.record.lock.duration.ms" => 1000,
        "group.share.delivery.count.limit" => 2,
        "group.share.partition.max.record.locks" => 100,
        "group.share.max.groups" | "share.coordinator.state.topic.num.partitions" => 1,
        "group.share.max.size" => 10,
        "group.initial.rebalance.delay.ms" | "offset.metadata.max.bytes" => 0,
        "group.max.size" | "offsets.retention.minutes" | "offsets.topic.num.partitions" => 1,
        "sluice.group.max.groups" | "sluice.producer.state.max.producers" => 1,
        "sluice.producer.state.max.ongoing.transactions" => 1,
        "sluice.log.aborted.txn.memory.entries" => 0,
        "sluice.log.max.open.files" | "sluice.log.max.mmaps" => 0,
        "sluice.metrics.max.partition.series" => 0,
        "telemetry.max.bytes" | "sluice.telemetry.max.client.instances" => 1,
        "sluice.telemetry.max.series" | "sluice.telemetry.max.subscriptions" => 0,
        "sluice.console.max.messages" | "sluice.console.max.read.bytes" => 1,
        "sluice.console.max.search.records" | "sluice.console.max.tail.streams" => 1,
        "sluice.console.session.ms" | "sluice.console.max.sessions" => 1,
        "sluice.schema.registry.max.schema.bytes" => 1,
        "offsets.topic.segment.bytes" | "offsets.retention.check.interval.ms" => 1,
        "transaction.max.timeout.ms" | "transactional.id.expiration.ms" => 1,
        "transaction.state.log.num.partitions" | "transaction.state.log.segment.bytes" => 1,
        "transaction.abort.timed.out.transaction.cleanup.interval.ms" => 1,
        "log.cleaner.backoff.ms" | "log.cleaner.dedupe.buffer.size" => 1,
        "delete.retention.ms" | "min.compaction.lag.ms" | "max.compaction.lag.ms" => 0,
        "max.connections" | "max.connections.per.ip" => 0,
        "max.request.partition.size.limit" => 1,
        "connections.max.reauth.ms" | "connection.failed.authentication.delay.ms" => 0,
        "sasl.server.max.receive.size" => 1,
        _ => i64::MIN,
    };
    if v < min {
        Err(format!("Value must be at least {min}"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_is_valid() {
        for d in BROKER_CONFIGS.iter().chain(TOPIC_CONFIGS) {
            validate(d, d.default).unwrap_or_else(|e| panic!("{}: {e}", d.name));
        }
    }

    #[test]
    fn topic_defaults_resolve_from_broker_names() {
        let (def, topic) = broker_config("log.retention.ms").unwrap();
        assert_eq!(def.name, "retention.ms");
        assert_eq!(topic, Some("retention.ms"));
        assert!(broker_config("no.such.setting").is_none());
    }

    #[test]
    fn validation_rejects_bad_values() {
        let d = topic_config("retention.ms").unwrap();
        assert!(validate(d, "-1").is_ok());
        assert!(validate(d, "-2").is_err());
        assert!(validate(d, "soon").is_err());
        let d = topic_config("cleanup.policy").unwrap();
        for ok in [
            "",
            " ",
            "delete",
            "compact",
            "compact,delete",
            "delete, compact",
        ] {
            assert!(validate(d, ok).is_ok(), "{ok:?}");
        }
        for bad in ["remove", "delete,", ",compact"] {
            assert!(validate(d, bad).is_err(), "{bad:?}");
        }
        let d = topic_config("message.timestamp.type").unwrap();
        assert!(validate(d, "LogAppendTime").is_ok());
        assert!(validate(d, "WallClock").is_err());
    }
}
