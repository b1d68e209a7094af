//! How the CLI's network commands reach a secured listener: Kafka's client security
//! settings (`security.protocol`, `sasl.mechanism`, `sasl.username`/`sasl.password` or
//! `sasl.jaas.config`, PEM `ssl.truststore.location`, `ssl.keystore.location` or
//! `ssl.keystore.certificate.chain`/`ssl.keystore.key`,
//! `ssl.endpoint.identification.algorithm`) read from `--command-config FILE` (a Kafka
//! client properties file, as Kafka's own tools take) and the short flags beside it, then
//! TLS (rustls) and the SASL exchange (PLAIN, SCRAM-SHA-256/512 per RFC 5802) on each
//! new connection.
//!
//! It owns the client side of security only: it never reads the broker's settings or
//! credentials, and never logs a password. One set of settings holds for the whole CLI
//! process (every connection a command opens, `mirror`'s two clusters included), set
//! once by [`configure`] before the command runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::security::scram::{random_bytes, ScramMechanism};

/// The security flags every network command takes (global, like `--bootstrap`).
#[derive(Args, Debug, Clone, Default)]
pub struct SecurityArgs {
    /// Kafka client properties (security.protocol, sasl.*, ssl.*), as Kafka's tools'
    /// --command-config.
    #[arg(long, value_name = "FILE", global = true)]
    pub command_config: Option<PathBuf>,
    /// security.protocol: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (overrides the file).
    #[arg(long, value_name = "PROTOCOL", global = true)]
    pub security_protocol: Option<String>,
    /// sasl.mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (overrides the file).
    #[arg(long, value_name = "MECHANISM", global = true)]
    pub sasl_mechanism: Option<String>,
    /// SASL user name (overrides the file).
    #[arg(long, value_name = "USER", global = true)]
    pub sasl_username: Option<String>,
    /// SASL password (overrides the file; prefer the file, which ps does not show).
    #[arg(long, value_name = "PASSWORD", global = true)]
    pub sasl_password: Option<String>,
}

/// What a secured connection needs, resolved from the settings.
#[derive(Clone, Default)]
pub struct ClientSecurity {
    pub tls: Option<Tls>,
    pub sasl: Option<Sasl>,
}

#[derive(Clone)]
pub struct Tls {
    config: Arc<rustls::ClientConfig>,
    /// `ssl.endpoint.identification.algorithm` is `https` (the default): the broker's
    /// certificate must name the host connected to.
    verify_host: bool,
}

#[derive(Clone)]
pub struct Sasl {
    pub mechanism: String,
    pub username: String,
    password: String,
}

static SECURITY: OnceLock<ClientSecurity> = OnceLock::new();

/// Resolves the settings once for this process; later connections use them.
pub fn configure(args: &SecurityArgs) -> Result<()> {
    let security = resolve(args)?;
    // A second call (tests run several commands in one process) keeps the first.
    let _ = SECURITY.set(security);
    Ok(())
}

/// The SASL user and password of a PLAIN or SCRAM configuration: the console's login
/// accepts the same users (`sluice group describe` logs in with them).
pub fn sasl_credentials() -> Option<(String, String)> {
    let sasl = current().sasl?;
    (sasl.mechanism == "PLAIN" || sasl.mechanism.starts_with("SCRAM-"))
        .then_some((sasl.username, sasl.password))
}

fn current() -> ClientSecurity {
    SECURITY.get().cloned().unwrap_or_default()
}

/// Reads a Kafka client properties file: `name=value` lines, `#`/`!` comments, a
/// trailing backslash continues a line (a JAAS line may be split).
pub fn read_properties(path: &Path) -> Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading --command-config {}", path.display()))?;
    Ok(parse_properties(&text))
}

fn parse_properties(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut pending = String::new();
    for raw in text.lines() {
        let line = raw.trim_start();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
        {
            continue;
        }
        if let Some(stripped) = line.strip_suffix('\\') {
            pending.push_str(stripped);
            continue;
        }
        pending.push_str(line);
        let entry = std::mem::take(&mut pending);
        let split = entry.find(['=', ':']);
        if let Some(at) = split {
            out.insert(
                entry[..at].trim().to_string(),
                entry[at + 1..].trim().to_string(),
            );
        }
    }
    out
}

fn resolve(args: &SecurityArgs) -> Result<ClientSecurity> {
    let mut props = match &args.command_config {
        Some(path) => read_properties(path)?,
        None => BTreeMap::new(),
    };
    let mut set = |name: &str, value: &Option<String>| {
        if let Some(v) = value {
            props.insert(name.to_string(), v.clone());
        }
    };
    set("security.protocol", &args.security_protocol);
    set("sasl.mechanism", &args.sasl_mechanism);
    set("sasl.username", &args.sasl_username);
    set("sasl.password", &args.sasl_password);
    let get = |name: &str| props.get(name).map(String::as_str).unwrap_or("");
    let protocol = match get("security.protocol") {
        "" => "PLAINTEXT".to_string(),
        p => p.to_ascii_uppercase(),
    };
    let (tls, sasl) = match protocol.as_str() {
        "PLAINTEXT" => (false, false),
        "SSL" => (true, false),
        "SASL_PLAINTEXT" => (false, true),
        "SASL_SSL" => (true, true),
        other => bail!(
            "security.protocol {other} is not one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"
        ),
    };
    let tls = if tls { Some(tls_config(&props)?) } else { None };
    let sasl = if sasl {
        let mechanism = match get("sasl.mechanism") {
            "" => "GSSAPI".to_string(),
            m => m.to_ascii_uppercase(),
        };
        if !matches!(
            mechanism.as_str(),
            "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512"
        ) {
            bail!("sasl.mechanism {mechanism} is not supported by the CLI (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)");
        }
        let (mut username, mut password) = (
            get("sasl.username").to_string(),
            get("sasl.password").to_string(),
        );
        // The flags (and sasl.username/sasl.password) win over the JAAS line's options.
        if !get("sasl.jaas.config").is_empty() {
            let entry = crate::security::jaas::parse(get("sasl.jaas.config"))
                .map_err(|e| anyhow!("sasl.jaas.config: {e}"))?;
            if username.is_empty() {
                username = entry.options.get("username").cloned().unwrap_or_default();
            }
            if password.is_empty() {
                password = entry.options.get("password").cloned().unwrap_or_default();
            }
        }
        if username.is_empty() {
            bail!("{protocol} needs a user: sasl.username (or --sasl-username) or username in sasl.jaas.config");
        }
        Some(Sasl {
            mechanism,
            username,
            password,
        })
    } else {
        None
    };
    Ok(ClientSecurity { tls, sasl })
}

fn read_pem(what: &str, path: &str) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {what} {path}"))
}

fn tls_config(props: &BTreeMap<String, String>) -> Result<Tls> {
    let get = |name: &str| props.get(name).map(String::as_str).unwrap_or("");
    for (name, expected) in [("ssl.truststore.type", "PEM"), ("ssl.keystore.type", "PEM")] {
        let v = get(name);
        if !v.is_empty() && !v.eq_ignore_ascii_case(expected) {
            bail!("{name} {v}: the CLI reads PEM files only");
        }
    }
    let mut roots = rustls::RootCertStore::empty();
    let trust = match (
        get("ssl.truststore.location"),
        get("ssl.truststore.certificates"),
    ) {
        ("", "") => bail!(
            "an SSL connection needs ssl.truststore.location (a PEM file of the CA certificates to trust)"
        ),
        ("", inline) => inline.as_bytes().to_vec(),
        (path, _) => read_pem("ssl.truststore.location", path)?,
    };
    for cert in CertificateDer::pem_slice_iter(&trust) {
        roots
            .add(cert.context("ssl.truststore: a certificate cannot be read")?)
            .context("ssl.truststore: a certificate is not usable as a trust anchor")?;
    }
    if roots.is_empty() {
        bail!("ssl.truststore holds no certificate");
    }
    // ring, as the broker's listeners (no C toolchain in the build); the deprecation is
    // about its missing post-quantum key exchange.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS versions")?
        .with_root_certificates(roots);
    let (chain_pem, key_pem) = match (
        get("ssl.keystore.location"),
        get("ssl.keystore.certificate.chain"),
    ) {
        ("", "") => (Vec::new(), Vec::new()),
        ("", chain) => (
            chain.as_bytes().to_vec(),
            get("ssl.keystore.key").as_bytes().to_vec(),
        ),
        (path, _) => {
            let pem = read_pem("ssl.keystore.location", path)?;
            (pem.clone(), pem)
        }
    };
    let config = if chain_pem.is_empty() {
        builder.with_no_client_auth()
    } else {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&chain_pem)
            .collect::<Result<_, _>>()
            .context("ssl.keystore: the certificate chain cannot be read")?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem)
            .context("ssl.keystore: no private key found")?;
        builder
            .with_client_auth_cert(chain, key)
            .context("ssl.keystore: the key does not fit the certificate")?
    };
    // Kafka's default is `https` (the certificate must name the host); only an
    // explicitly empty value turns the check off.
    let verify_host = props
        .get("ssl.endpoint.identification.algorithm")
        .is_none_or(|v| !v.is_empty());
    Ok(Tls {
        config: Arc::new(config),
        verify_host,
    })
}

/// A connected stream, TLS or not.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// The transport for `addr` over a connected socket: TLS when the settings say so.
pub async fn wrap(addr: &str, tcp: TcpStream) -> Result<Box<dyn Stream>> {
    let security = current();
    let Some(tls) = security.tls else {
        return Ok(Box::new(tcp));
    };
    let host = addr
        .rsplit_once(':')
        .map_or(addr, |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']');
    let name = ServerName::try_from(host.to_string())
        .map_err(|_| anyhow!("{host} is not a valid TLS server name"))?;
    let config = if tls.verify_host {
        tls.config.clone()
    } else {
        bail!("ssl.endpoint.identification.algorithm empty (no host name check) is not supported by the CLI");
    };
    let stream = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .with_context(|| format!("TLS handshake with {addr}"))?;
    Ok(Box::new(stream))
}

/// The SASL mechanism and user to authenticate as on a new connection, if any.
pub fn sasl() -> Option<Sasl> {
    current().sasl
}

/// The client side of one SASL exchange: the tokens to send, one answer at a time.
pub enum SaslClient {
    Plain(Option<Vec<u8>>),
    Scram(ScramClient),
}

impl SaslClient {
    pub fn new(sasl: &Sasl) -> SaslClient {
        match sasl.mechanism.as_str() {
            "PLAIN" => SaslClient::Plain(Some(
                format!("\0{}\0{}", sasl.username, sasl.password).into_bytes(),
            )),
            m => SaslClient::Scram(ScramClient::new(
                ScramMechanism::from_name(m).expect("mechanism checked when resolved"),
                &sasl.username,
                &sasl.password,
            )),
        }
    }

    /// The next token to send given the server's last answer (`None` before the first),
    /// or `None` when the exchange is complete.
    pub fn step(&mut self, server: Option<&[u8]>) -> Result<Option<Vec<u8>>> {
        match self {
            SaslClient::Plain(token) => Ok(token.take()),
            SaslClient::Scram(s) => s.step(server),
        }
    }
}

/// SCRAM (RFC 5802) as a client: client-first, client-final with the proof, then the
/// server's signature checked.
pub struct ScramClient {
    mechanism: ScramMechanism,
    username: String,
    password: String,
    client_nonce: String,
    client_first_bare: String,
    expected_server_signature: Option<Vec<u8>>,
    done: bool,
}

impl ScramClient {
    pub fn new(mechanism: ScramMechanism, username: &str, password: &str) -> ScramClient {
        let nonce = base64_encode(&random_bytes(18));
        ScramClient {
            mechanism,
            // RFC 5802 5.1: ',' and '=' in a name are escaped.
            username: username.replace('=', "=3D").replace(',', "=2C"),
            password: password.to_string(),
            client_nonce: nonce,
            client_first_bare: String::new(),
            expected_server_signature: None,
            done: false,
        }
    }

    fn step(&mut self, server: Option<&[u8]>) -> Result<Option<Vec<u8>>> {
        match (server, &self.expected_server_signature) {
            (None, _) => {
                self.client_first_bare = format!("n={},r={}", self.username, self.client_nonce);
                Ok(Some(format!("n,,{}", self.client_first_bare).into_bytes()))
            }
            (Some(server_first), None) => {
                let server_first = std::str::from_utf8(server_first)
                    .context("SCRAM server-first message is not UTF-8")?;
                let fields = scram_fields(server_first);
                let nonce = fields.get("r").context("SCRAM server-first without r=")?;
                if !nonce.starts_with(&self.client_nonce) || nonce.len() <= self.client_nonce.len()
                {
                    bail!("SCRAM: the server's nonce does not extend ours");
                }
                let salt = base64_decode(fields.get("s").context("SCRAM server-first without s=")?)
                    .context("SCRAM salt is not base64")?;
                let iterations: u32 = fields
                    .get("i")
                    .context("SCRAM server-first without i=")?
                    .parse()
                    .context("SCRAM iteration count")?;
                if iterations < 4096 {
                    bail!("SCRAM: {iterations} iterations is below the minimum of 4096");
                }
                let m = self.mechanism;
                let salted = m.salted_password(self.password.as_bytes(), &salt, iterations);
                let client_key = m.hmac(&salted, b"Client Key");
                let stored_key = m.hash(&client_key);
                let without_proof = format!("c=biws,r={nonce}");
                let auth_message =
                    format!("{},{server_first},{without_proof}", self.client_first_bare);
                let signature = m.hmac(&stored_key, auth_message.as_bytes());
                let proof: Vec<u8> = client_key
                    .iter()
                    .zip(&signature)
                    .map(|(a, b)| a ^ b)
                    .collect();
                let server_key = m.hmac(&salted, b"Server Key");
                self.expected_server_signature = Some(m.hmac(&server_key, auth_message.as_bytes()));
                Ok(Some(
                    format!("{without_proof},p={}", base64_encode(&proof)).into_bytes(),
                ))
            }
            (Some(server_final), Some(expected)) => {
                if self.done {
                    return Ok(None);
                }
                let server_final = std::str::from_utf8(server_final)
                    .context("SCRAM server-final message is not UTF-8")?;
                let fields = scram_fields(server_final);
                if let Some(e) = fields.get("e") {
                    bail!("SCRAM: the server refused: {e}");
                }
                let verifier =
                    base64_decode(fields.get("v").context("SCRAM server-final without v=")?)
                        .context("SCRAM server signature is not base64")?;
                if &verifier != expected {
                    bail!("SCRAM: the server's signature is wrong (not the broker we have credentials for)");
                }
                self.done = true;
                Ok(None)
            }
        }
    }
}

fn scram_fields(message: &str) -> BTreeMap<&str, &str> {
    message
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .collect()
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn base64_decode(s: &str) -> Result<Vec<u8>> {
    use base64::Engine;
    Ok(base64::engine::general_purpose::STANDARD.decode(s)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::scram::{ScramCredential, ScramServer, ScramStep};

    #[test]
    fn properties_files_as_kafka_writes_them() {
        let props = parse_properties(
            "# comment\n! also\nsecurity.protocol=SASL_SSL\nsasl.mechanism : SCRAM-SHA-512\n\
             sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\\n  \
             username=\"bob\" password=\"a=b\";\n",
        );
        assert_eq!(props["security.protocol"], "SASL_SSL");
        assert_eq!(props["sasl.mechanism"], "SCRAM-SHA-512");
        assert!(props["sasl.jaas.config"].ends_with("username=\"bob\" password=\"a=b\";"));
    }

    #[test]
    fn a_jaas_line_gives_the_user() {
        let args = SecurityArgs {
            security_protocol: Some("sasl_plaintext".into()),
            sasl_mechanism: Some("PLAIN".into()),
            ..SecurityArgs::default()
        };
        assert!(resolve(&args).is_err(), "no user given");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client.properties");
        std::fs::write(&path, "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"alice\" password=\"s3cret\";\n").unwrap();
        let args = SecurityArgs {
            command_config: Some(path),
            ..args
        };
        let sasl = resolve(&args).unwrap().sasl.unwrap();
        assert_eq!(
            (sasl.username.as_str(), sasl.password.as_str()),
            ("alice", "s3cret")
        );
    }

    /// The client and the broker's own SCRAM server agree, and a wrong password fails.
    #[test]
    fn scram_client_against_the_broker_server() {
        for mechanism in [ScramMechanism::Sha256, ScramMechanism::Sha512] {
            for (password, ok) in [("pw", true), ("wrong", false)] {
                let salted = mechanism.salted_password(b"pw", b"salty", 4096);
                let credential =
                    ScramCredential::from_salted_password(mechanism, b"salty", &salted, 4096);
                let mut server = ScramServer::new(mechanism);
                let mut client = ScramClient::new(mechanism, "u", password);
                let first = client.step(None).unwrap().unwrap();
                let ScramStep::Continue(server_first) =
                    server.step(&first, |_| Some(credential.clone())).unwrap()
                else {
                    panic!("server-first expected");
                };
                let last = client.step(Some(&server_first)).unwrap().unwrap();
                match server.step(&last, |_| Some(credential.clone())) {
                    Ok(ScramStep::Done { server_final, .. }) => {
                        assert!(ok);
                        assert_eq!(client.step(Some(&server_final)).unwrap(), None);
                    }
                    Ok(_) => panic!("unexpected step"),
                    Err(_) => assert!(!ok),
                }
            }
        }
    }
}
