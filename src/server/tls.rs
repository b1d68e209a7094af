//! TLS for SSL and SASL_SSL listeners, with rustls (ring provider; no OpenSSL).
//!
//! Builds one `TlsAcceptor` per listener from its `ssl.*` settings at start-up (PEM
//! keystore as a file or inline, PEM truststore, `ssl.client.auth`,
//! `ssl.enabled.protocols`) and names the client by its certificate
//! ([`KafkaPrincipal::from_certificate`]). A bad setting or an unreadable file stops
//! start-up with one line naming the listener and the setting. It never reads or writes
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
use crate::security::KafkaPrincipal;

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

/// The principal of a TLS client: its certificate's subject, or `User:ANONYMOUS`.
pub fn peer_principal(stream: &TlsStream<TcpStream>) -> KafkaPrincipal {
    match stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
    {
        Some(cert) => KafkaPrincipal::from_certificate(cert).unwrap_or_else(|e| {
            tracing::warn!("{e}; treating the client as User:ANONYMOUS");
            KafkaPrincipal::anonymous()
        }),
        None => KafkaPrincipal::anonymous(),
    }
}
