//! TLS for SSL and SASL_SSL listeners, with rustls (ring provider; no OpenSSL).
//!
//! Builds one `TlsAcceptor` per listener from its `ssl.*` settings at start-up (PEM
//! keystore as a file or inline, PEM truststore, `ssl.client.auth`,
//! `ssl.enabled.protocols`) and names the client by its certificate
//! ([`KafkaPrincipal::from_certificate`]). A bad setting or an unreadable file stops
//! start-up with one line naming the listener and the setting. The keystore and
//! truststore files are watched ([`ReloadingAcceptor`]): when one changes, new
//! connections get the new certificates, as Kafka's dynamic keystore update gives them;
//! a file that does not load is logged and the previous certificates kept. It never reads or writes
//! Kafka requests: the connection runs over the decrypted stream like over a socket.

use std::sync::Arc;

use anyhow::{bail, Context, Result};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::config::listeners::ListenerConfig;
use crate::security::principal_mapping::SslPrincipalMapper;
use crate::security::KafkaPrincipal;

/// How often the keystore and truststore files are checked for changes.
pub const RELOAD_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// A listener's TLS acceptor, rebuilt when its PEM files change.
pub struct ReloadingAcceptor {
    listener: ListenerConfig,
    current: parking_lot::RwLock<TlsAcceptor>,
    /// The files' (modified time, length) when last loaded or tried.
    stamps: parking_lot::Mutex<Vec<Option<(std::time::SystemTime, u64)>>>,
}

impl ReloadingAcceptor {
    pub fn new(listener: &ListenerConfig) -> Result<ReloadingAcceptor> {
        let stamps = file_stamps(listener);
        Ok(ReloadingAcceptor {
            current: parking_lot::RwLock::new(acceptor(listener)?),
            listener: listener.clone(),
            stamps: parking_lot::Mutex::new(stamps),
        })
    }

    /// The acceptor for a connection accepted now.
    pub fn current(&self) -> TlsAcceptor {
        self.current.read().clone()
    }

    /// Rebuilds the acceptor when the keystore or truststore file changed since the
    /// last look. Blocking (reads the files), but they are small.
    pub fn reload_if_changed(&self) {
        let now = file_stamps(&self.listener);
        {
            let mut last = self.stamps.lock();
            if *last == now {
                return;
            }
            *last = now;
        }
        let name = &self.listener.name;
        match acceptor(&self.listener) {
            Ok(a) => {
                *self.current.write() = a;
                tracing::info!(listener = %name, "TLS keystore/truststore changed: new connections use the new certificates");
            }
            Err(e) => tracing::warn!(
                listener = %name,
                "TLS keystore/truststore changed but does not load, keeping the previous certificates: {e:#}"
            ),
        }
    }
}

fn file_stamps(l: &ListenerConfig) -> Vec<Option<(std::time::SystemTime, u64)>> {
    ["ssl.keystore.location", "ssl.truststore.location"]
        .iter()
        .map(|s| l.setting(s))
        .filter(|p| !p.is_empty())
        .map(|p| {
            std::fs::metadata(p)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())))
        })
        .collect()
}

/// The TLS acceptor of a listener whose security protocol uses TLS.
pub fn acceptor(listener: &ListenerConfig) -> Result<TlsAcceptor> {
    let name = &listener.name;
    let ctx = |setting: &str| format!("listener {name}: {setting}");
    let (chain, key) = keystore(listener).with_context(|| ctx("ssl.keystore"))?;
    // ring, not aws-lc-rs: no C/CMake toolchain in the build. Its provider lacks the
    // post-quantum key exchange (hence the deprecation); clients fall back to X25519.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut versions = Vec::new();
    for p in listener
        .setting("ssl.enabled.protocols")
        .split(',')
        .map(str::trim)
    {
        match p {
            "TLSv1.2" => versions.push(&rustls::version::TLS12),
            "TLSv1.3" => versions.push(&rustls::version::TLS13),
            "" => {}
            other => bail!(
                "{}: unsupported protocol {other}",
                ctx("ssl.enabled.protocols")
            ),
        }
    }
    if versions.is_empty() {
        bail!("{}: no protocol enabled", ctx("ssl.enabled.protocols"));
    }
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .with_context(|| ctx("ssl.enabled.protocols"))?;
    let client_auth = listener.setting("ssl.client.auth").trim().to_string();
    let builder = match client_auth.as_str() {
        "" | "none" => builder.with_no_client_auth(),
        "requested" | "required" => {
            let roots = truststore(listener).with_context(|| ctx("ssl.truststore"))?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if client_auth == "requested" {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            builder
                .with_client_cert_verifier(verifier.build().with_context(|| ctx("ssl.truststore"))?)
        }
        other => bail!(
            "{}: `{other}` is not none, requested or required",
            ctx("ssl.client.auth")
        ),
    };
    let config = builder
        .with_single_cert(chain, key)
        .with_context(|| ctx("ssl.keystore (key and certificate)"))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn read_pem(what: &str, path: &str) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {what} {path}"))
}

fn keystore(l: &ListenerConfig) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let location = l.setting("ssl.keystore.location");
    let (chain_pem, key_pem) = if !location.is_empty() {
        let pem = read_pem("ssl.keystore.location", location)?;
        (pem.clone(), pem)
    } else {
        let chain = l.setting("ssl.keystore.certificate.chain");
        let key = l.setting("ssl.keystore.key");
        if chain.is_empty() || key.is_empty() {
            bail!("a TLS listener needs ssl.keystore.location, or ssl.keystore.certificate.chain with ssl.keystore.key");
        }
        (chain.as_bytes().to_vec(), key.as_bytes().to_vec())
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&chain_pem)
        .collect::<Result<_, _>>()
        .context("parsing the certificate chain")?;
    if chain.is_empty() {
        bail!("no CERTIFICATE in the keystore");
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .context("no unencrypted PRIVATE KEY (PKCS#8, PKCS#1 or SEC1) in the keystore")?;
    Ok((chain, key))
}

fn truststore(l: &ListenerConfig) -> Result<RootCertStore> {
    let location = l.setting("ssl.truststore.location");
    let pem = if !location.is_empty() {
        read_pem("ssl.truststore.location", location)?
    } else {
        l.setting("ssl.truststore.certificates").as_bytes().to_vec()
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        roots
            .add(cert.context("parsing a trusted certificate")?)
            .context("adding a trusted certificate")?;
    }
    if roots.is_empty() {
        bail!("ssl.client.auth asks for client certificates but no trusted certificate is configured (ssl.truststore.location)");
    }
    Ok(roots)
}

/// The principal of a TLS client: its certificate's subject mapped by the listener's
/// `ssl.principal.mapping.rules`, or `User:ANONYMOUS` without a certificate. `Err`: no
/// rule matches the subject (the connection fails, as in Kafka).
pub fn peer_principal(
    stream: &TlsStream<TcpStream>,
    mapper: &SslPrincipalMapper,
) -> Result<KafkaPrincipal, String> {
    match stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
    {
        Some(cert) => match KafkaPrincipal::from_certificate(cert) {
            Ok(p) => match mapper.name(&p.name) {
                Some(name) => Ok(KafkaPrincipal::user(name)),
                None => Err(format!(
                    "no ssl.principal.mapping.rules rule applies to {}",
                    p.name
                )),
            },
            Err(e) => {
                tracing::warn!("{e}; treating the client as User:ANONYMOUS");
                Ok(KafkaPrincipal::anonymous())
            }
        },
        None => Ok(KafkaPrincipal::anonymous()),
    }
}
