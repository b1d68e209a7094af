//! Authentication as Kafka does it: principals, SASL (PLAIN, SCRAM-SHA-256/512 and
//! OAUTHBEARER), the JAAS lines PLAIN users come from, the durable store of SCRAM
//! credentials, and the ACL authorizer (Kafka's StandardAuthorizer rules) with its
//! durable ACL set, and client quotas (durable, with the rate sensors that decide
//! throttling).
//!
//! It owns the per-connection authentication state ([`Session`]) that the SaslHandshake
//! and SaslAuthenticate handlers drive and that request handlers read the principal
//! from. It never touches sockets (TLS lives in `server::tls`) and never stores or logs
//! a password: SCRAM users are kept only as Kafka's salted keys.

pub mod acl;
pub mod acl_store;
pub mod authorizer;
pub mod credentials;
pub mod delegation_tokens;
pub mod jaas;
pub mod oauthbearer;
pub mod principal;
pub mod principal_mapping;
pub mod quota;
pub mod scram;
pub mod session;

pub use authorizer::{Authorizer, AuthorizerConfig};
pub use credentials::ScramCredentialStore;
pub use principal::KafkaPrincipal;
pub use session::{ListenerSecurity, Session};
