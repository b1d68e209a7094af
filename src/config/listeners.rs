//! Named listeners as Kafka defines them: `listeners`, `advertised.listeners`,
//! `listener.security.protocol.map` and the `listener.name.<name>.<setting>` overrides.
//!
//! This file owns parsing and resolving those settings into one [`ListenerConfig`] per
//! listener. It never binds a socket or reads a key file (the server does, at start-up).

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};

use super::definitions::{broker_config, ConfigDef};

/// The security protocol of a listener (Kafka's `SecurityProtocol`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecurityProtocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    pub fn parse(s: &str) -> Option<SecurityProtocol> {
        Some(match s.trim().to_ascii_uppercase().as_str() {
            "PLAINTEXT" => SecurityProtocol::Plaintext,
            "SSL" => SecurityProtocol::Ssl,
            "SASL_PLAINTEXT" => SecurityProtocol::SaslPlaintext,
            "SASL_SSL" => SecurityProtocol::SaslSsl,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    pub fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

/// One listener, resolved.
#[derive(Clone, Debug)]
pub struct ListenerConfig {
    /// The listener name as given in `listeners`, upper-cased (Kafka's `ListenerName`).
    pub name: String,
    pub security_protocol: SecurityProtocol,
    /// HOST:PORT to bind (IPv6 in brackets).
    pub bind: String,
    /// What Metadata, FindCoordinator and DescribeCluster answer to clients that came in
    /// on this listener. A port of 0 means "the port actually bound".
    pub advertised_host: String,
    pub advertised_port: i32,
    /// Per-listener settings (`ssl.*`, `sasl.*`, `<mechanism>.sasl.jaas.config`,
    /// `connections.max.reauth.ms`), already resolved: the listener-prefixed value, else
    /// the broker-wide one, else the default.
    pub settings: BTreeMap<String, String>,
}

impl ListenerConfig {
    /// A per-listener setting as resolved (empty when neither set nor defaulted).
    pub fn setting(&self, name: &str) -> &str {
        self.settings.get(name).map(String::as_str).unwrap_or("")
    }

    /// The JAAS line for `mechanism` on this listener (Kafka's
    /// `listener.name.<l>.<mechanism>.sasl.jaas.config`, then the same without the
    /// listener prefix, then `sasl.jaas.config`).
    pub fn jaas_config(&self, mechanism: &str) -> &str {
        let key = format!("{}.sasl.jaas.config", mechanism.to_ascii_lowercase());
        match self.settings.get(&key) {
            Some(v) => v,
            None => self.setting("sasl.jaas.config"),
        }
    }
}

/// Settings that may be given per listener with `listener.name.<name>.` in front.
pub const PER_LISTENER: &[&str] = &[
    "ssl.keystore.type",
    "ssl.keystore.location",
    "ssl.keystore.certificate.chain",
    "ssl.keystore.key",
    "ssl.truststore.type",
    "ssl.truststore.location",
    "ssl.truststore.certificates",
    "ssl.client.auth",
    "ssl.enabled.protocols",
    "ssl.principal.mapping.rules",
    "sasl.enabled.mechanisms",
    "sasl.jaas.config",
    "connections.max.reauth.ms",
    "sasl.oauthbearer.jwks.endpoint.url",
    "sasl.oauthbearer.expected.audience",
    "sasl.oauthbearer.expected.issuer",
    "sasl.oauthbearer.sub.claim.name",
    "sasl.oauthbearer.scope.claim.name",
    "sasl.oauthbearer.clock.skew.seconds",
];

/// True for `<mechanism>.sasl.jaas.config` (Kafka's per-mechanism JAAS setting).
fn is_mechanism_jaas(name: &str) -> bool {
    name.strip_suffix(".sasl.jaas.config")
        .is_some_and(|m| !m.is_empty() && !m.contains('.'))
}

/// Validates a setting name that is not in the broker table: a listener-prefixed one
/// or a per-mechanism JAAS line. Returns the definition to validate its value against
/// (`None`: a JAAS line, any text).
pub fn extra_setting(name: &str) -> Result<Option<&'static ConfigDef>, String> {
    let rest = match name.strip_prefix("listener.name.") {
        Some(rest) => match rest.split_once('.') {
            Some((listener, setting)) if !listener.is_empty() => setting,
            _ => {
                return Err(format!(
                    "`{name}` is not listener.name.<listener>.<setting>"
                ))
            }
        },
        None => name,
    };
    if is_mechanism_jaas(rest) {
        return Ok(None);
    }
    if name.starts_with("listener.name.") && PER_LISTENER.contains(&rest) {
        return Ok(broker_config(rest).map(|(d, _)| d));
    }
    Err(format!(
        "unknown setting `{name}` (settings use Kafka's broker names, e.g. log.retention.ms; see config/sluice.toml)"
    ))
}

/// Resolves every listener from the explicit settings (`get` gives a setting's explicit
/// value or its default).
pub fn resolve(
    explicit: &BTreeMap<String, String>,
    get: impl Fn(&str) -> String,
) -> Result<Vec<ListenerConfig>> {
    let map = parse_protocol_map(&get("listener.security.protocol.map"))
        .context("listener.security.protocol.map")?;
    let mut listeners: Vec<ListenerConfig> = Vec::new();
    for (name, bind) in parse_listener_list(&get("listeners")).context("listeners")? {
        let Some(&security_protocol) = map.get(&name) else {
            bail!(
                "listeners: no security protocol defined for listener {name} (add {name}:<protocol> to listener.security.protocol.map)"
            );
        };
        if listeners.iter().any(|l| l.name == name) {
            bail!("listeners: listener name {name} is used twice");
        }
        let (host, port) = super::split_host_port(&bind).context("listeners")?;
        if port != 0 && listeners.iter().any(|l| l.bind == bind) {
            bail!("listeners: {bind} is used by two listeners");
        }
        listeners.push(ListenerConfig {
            name,
            security_protocol,
            bind,
            advertised_host: host,
            advertised_port: port,
            settings: BTreeMap::new(),
        });
    }
    if listeners.is_empty() {
        bail!("listeners: no listener given");
    }
    let advertised = get("advertised.listeners");
    if !advertised.trim().is_empty() {
        for (name, addr) in parse_listener_list(&advertised).context("advertised.listeners")? {
            // A bare HOST:PORT (`--advertised-listener`) is the first listener's.
            let name = if addr_had_scheme(&advertised, &name) {
                name
            } else {
                listeners[0].name.clone()
            };
            let Some(l) = listeners.iter_mut().find(|l| l.name == name) else {
                bail!("advertised.listeners: {name} is not a listener in `listeners`");
            };
            let (host, port) = super::split_host_port(&addr).context("advertised.listeners")?;
            l.advertised_host = host;
            l.advertised_port = port;
        }
    }
    for l in &mut listeners {
        let prefix = format!("listener.name.{}.", l.name.to_ascii_lowercase());
        for setting in PER_LISTENER {
            let v = explicit
                .get(&format!("{prefix}{setting}"))
                .cloned()
                .unwrap_or_else(|| get(setting));
            l.settings.insert(setting.to_string(), v);
        }
        // Per-mechanism JAAS lines: the broker-wide ones, then this listener's on top.
        for (k, v) in explicit {
            if is_mechanism_jaas(k) {
                l.settings.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        for (k, v) in explicit {
            let lower = k.to_ascii_lowercase();
            if let Some(rest) = lower.strip_prefix(&prefix) {
                if is_mechanism_jaas(rest) {
                    l.settings.insert(rest.to_string(), v.clone());
                }
            }
        }
    }
    Ok(listeners)
}

/// The listener list's name for an entry, when it was written with `NAME://`.
fn addr_had_scheme(list: &str, name: &str) -> bool {
    list.split(',').any(|e| {
        e.trim()
            .to_ascii_uppercase()
            .starts_with(&format!("{name}://"))
    })
}

/// Parses `NAME://HOST:PORT,...`; an entry without `NAME://` is PLAINTEXT (so
/// `listeners=127.0.0.1:9092` keeps working).
pub fn parse_listener_list(value: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, addr) = match entry.split_once("://") {
            Some((name, addr)) => (name.trim().to_ascii_uppercase(), addr.trim()),
            None => ("PLAINTEXT".to_string(), entry),
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            bail!("`{entry}`: bad listener name `{name}`");
        }
        out.push((name, addr.to_string()));
    }
    Ok(out)
}

/// Parses `NAME:PROTOCOL,...`. As in Kafka, an explicit map replaces the default one.
pub fn parse_protocol_map(value: &str) -> Result<BTreeMap<String, SecurityProtocol>> {
    let mut map = BTreeMap::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((name, protocol)) = entry.split_once(':') else {
            bail!("`{entry}` is not LISTENER_NAME:SECURITY_PROTOCOL");
        };
        let Some(p) = SecurityProtocol::parse(protocol) else {
            bail!("`{entry}`: unknown security protocol `{protocol}` (PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)");
        };
        map.insert(name.trim().to_ascii_uppercase(), p);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::definitions::broker_config;

    fn resolve_with(sets: &[(&str, &str)]) -> Result<Vec<ListenerConfig>> {
        let explicit: BTreeMap<String, String> = sets
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let get = |n: &str| {
            explicit.get(n).cloned().unwrap_or_else(|| {
                broker_config(n)
                    .map(|(d, _)| d.default.to_string())
                    .unwrap_or_default()
            })
        };
        resolve(&explicit, get)
    }

    #[test]
    fn default_is_one_plaintext_listener() {
        let l = resolve_with(&[]).unwrap();
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].name, "PLAINTEXT");
        assert_eq!(l[0].security_protocol, SecurityProtocol::Plaintext);
        assert_eq!(l[0].bind, "127.0.0.1:9092");
        assert_eq!(
            (l[0].advertised_host.as_str(), l[0].advertised_port),
            ("127.0.0.1", 9092)
        );
    }

    #[test]
    fn named_listeners_with_custom_names_and_advertised_addresses() {
        let l = resolve_with(&[
            ("listeners", "PLAINTEXT://127.0.0.1:9092, internal://127.0.0.1:9093,SASL_SSL://[::1]:9094"),
            ("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,INTERNAL:SASL_SSL,SASL_SSL:SASL_SSL"),
            ("advertised.listeners", "INTERNAL://broker.internal:19093"),
            ("ssl.client.auth", "requested"),
            ("listener.name.internal.ssl.client.auth", "required"),
            ("listener.name.internal.sasl.enabled.mechanisms", "PLAIN"),
            ("plain.sasl.jaas.config", "global"),
            ("listener.name.internal.plain.sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule required user_a=\"x=y z\";"),
        ])
        .unwrap();
        assert_eq!(l.len(), 3);
        assert_eq!(l[1].name, "INTERNAL");
        assert_eq!(l[1].security_protocol, SecurityProtocol::SaslSsl);
        assert_eq!(
            (l[1].advertised_host.as_str(), l[1].advertised_port),
            ("broker.internal", 19093)
        );
        assert_eq!(
            (l[0].advertised_host.as_str(), l[0].advertised_port),
            ("127.0.0.1", 9092)
        );
        assert_eq!(
            (l[2].advertised_host.as_str(), l[2].advertised_port),
            ("::1", 9094)
        );
        assert_eq!(l[1].setting("ssl.client.auth"), "required");
        assert_eq!(l[2].setting("ssl.client.auth"), "requested");
        assert_eq!(l[1].setting("sasl.enabled.mechanisms"), "PLAIN");
        assert_eq!(
            l[2].setting("sasl.enabled.mechanisms"),
            "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"
        );
        assert!(l[1].jaas_config("PLAIN").contains("x=y z"));
        assert_eq!(l[2].jaas_config("PLAIN"), "global");
    }

    #[test]
    fn bare_address_is_plaintext_and_bare_advertised_is_the_first_listener() {
        let l = resolve_with(&[
            ("listeners", "127.0.0.1:5000"),
            ("advertised.listeners", "example:6000"),
        ])
        .unwrap();
        assert_eq!(l[0].name, "PLAINTEXT");
        assert_eq!(
            (l[0].advertised_host.as_str(), l[0].advertised_port),
            ("example", 6000)
        );
    }

    #[test]
    fn bad_listener_settings_fail_with_one_line() {
        for (sets, says) in [
            (
                vec![("listeners", "INTERNAL://127.0.0.1:1")],
                "no security protocol defined for listener INTERNAL",
            ),
            (
                vec![(
                    "listeners",
                    "PLAINTEXT://127.0.0.1:1,PLAINTEXT://127.0.0.1:2",
                )],
                "used twice",
            ),
            (
                vec![("listeners", "PLAINTEXT://127.0.0.1:1,SSL://127.0.0.1:1")],
                "used by two listeners",
            ),
            (
                vec![("listeners", "PLAINTEXT://127.0.0.1")],
                "not HOST:PORT",
            ),
            (
                vec![("listener.security.protocol.map", "A:TLS")],
                "unknown security protocol",
            ),
            (
                vec![("advertised.listeners", "SSL://h:1")],
                "SSL is not a listener",
            ),
        ] {
            let e = format!("{:#}", resolve_with(&sets).unwrap_err());
            assert!(e.contains(says), "{sets:?}: {e}");
            assert!(!e.contains('\n'), "{sets:?}: {e}");
        }
    }

    #[test]
    fn listener_prefixed_and_jaas_names_are_known() {
        assert!(extra_setting("listener.name.sasl_ssl.ssl.client.auth")
            .unwrap()
            .is_some());
        assert!(extra_setting("listener.name.x.plain.sasl.jaas.config")
            .unwrap()
            .is_none());
        assert!(
            extra_setting("listener.name.x.scram-sha-256.sasl.jaas.config")
                .unwrap()
                .is_none()
        );
        assert!(extra_setting("plain.sasl.jaas.config").unwrap().is_none());
        assert!(extra_setting("listener.name.x.log.retention.ms").is_err());
        assert!(extra_setting("listener.name..ssl.client.auth").is_err());
        assert!(extra_setting("no.such").is_err());
    }
}
