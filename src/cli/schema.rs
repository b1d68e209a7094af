//! `sluice schema register|get|list|delete|check`: a client of a Confluent-compatible
//! schema registry's REST API (Sluice's own, `sluice.schema.registry.listen`, or any
//! other), over plain HTTP/1.1 with hyper.
//!
//! It owns the registry's URL handling and the HTTP calls ([`Registry`]), which
//! `consume --schema-registry` reuses to fetch schemas by id. It never reads the
//! broker's files or memory: everything goes through the REST API, and a registry's
//! error answer (`{"error_code":..,"message":..}`) becomes one line on stderr.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpStream;

/// Confluent's content type, which every registry accepts.
const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

#[derive(Args, Debug)]
pub struct SchemaArgs {
    /// The schema registry's URL.
    #[arg(
        long,
        value_name = "URL",
        default_value = "http://127.0.0.1:8081",
        global = true
    )]
    pub schema_registry: String,
    #[command(subcommand)]
    pub command: SchemaCommand,
}

/// Where a schema's text comes from.
#[derive(Args, Debug)]
pub struct SchemaText {
    /// The schema's text.
    #[arg(long, conflicts_with = "file", required_unless_present = "file")]
    pub schema: Option<String>,
    /// A file holding the schema's text (.avsc, .json, .proto).
    #[arg(long, value_name = "PATH")]
    pub file: Option<std::path::PathBuf>,
    /// The schema's format.
    #[arg(long = "type", default_value = "AVRO", value_parser = ["AVRO", "JSON", "PROTOBUF"])]
    pub schema_type: String,
}

impl SchemaText {
    fn body(&self) -> Result<Value> {
        let text = match (&self.schema, &self.file) {
            (Some(s), _) => s.clone(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?,
            (None, None) => bail!("give --schema or --file"),
        };
        let mut body = json!({ "schema": text });
        if self.schema_type != "AVRO" {
            body["schemaType"] = json!(self.schema_type);
        }
        Ok(body)
    }
}

#[derive(Subcommand, Debug)]
pub enum SchemaCommand {
    /// Register a schema under SUBJECT; prints its id (the same schema gets the same id).
    Register {
        subject: String,
        #[command(flatten)]
        text: SchemaText,
        /// Normalise the schema first (equivalent schemas get one id).
        #[arg(long)]
        normalize: bool,
    },
    /// Print a schema: by --id, or SUBJECT's --version (default latest), as JSON.
    Get {
        #[arg(required_unless_present = "id", conflicts_with = "id")]
        subject: Option<String>,
        /// A global schema id.
        #[arg(long)]
        id: Option<i32>,
        /// A version number or `latest`.
        #[arg(long, default_value = "latest")]
        version: String,
    },
    /// List the subjects, or SUBJECT's versions.
    List {
        subject: Option<String>,
        /// Include soft-deleted subjects or versions.
        #[arg(long)]
        deleted: bool,
    },
    /// Delete SUBJECT, or one --version of it (soft; --permanent after a soft delete).
    Delete {
        subject: String,
        #[arg(long)]
        version: Option<String>,
        #[arg(long)]
        permanent: bool,
    },
    /// Is a schema compatible with SUBJECT's --version (default latest)? Exit status 1 if not.
    Check {
        subject: String,
        #[command(flatten)]
        text: SchemaText,
        #[arg(long, default_value = "latest")]
        version: String,
    },
}

/// A registry's REST API at one `http://HOST:PORT[/prefix]` URL.
#[derive(Clone, Debug)]
pub struct Registry {
    address: String,
    prefix: String,
}

impl Registry {
    pub fn new(url: &str) -> Result<Registry> {
        let rest = url
            .trim()
            .strip_prefix("http://")
            .with_context(|| format!("schema registry URL {url} must start with http://"))?;
        let (address, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if address.is_empty() {
            bail!("schema registry URL {url} names no host");
        }
        let address = if address.contains(':') {
            address.to_string()
        } else {
            format!("{address}:80")
        };
        Ok(Registry {
            address,
            prefix: prefix.to_string(),
        })
    }

    /// One call: the status and the JSON body (null when empty or not JSON).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value)> {
        let stream = TcpStream::connect(&self.address).await.with_context(|| {
            format!("cannot connect to the schema registry at {}", self.address)
        })?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP handshake with the schema registry")?;
        tokio::spawn(connection);
        let data = body.map(|b| b.to_string()).unwrap_or_default();
        let request = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.prefix))
            .header(hyper::header::HOST, &self.address)
            .header(hyper::header::CONTENT_TYPE, CONTENT_TYPE)
            .header(hyper::header::ACCEPT, CONTENT_TYPE)
            .body(Full::new(Bytes::from(data)))?;
        let response = sender
            .send_request(request)
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    /// [`Registry::call`], with any answer but 200 turned into the registry's message.
    pub async fn ok(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        let (status, answer) = self.call(method, path, body).await?;
        if status != 200 {
            match (answer.get("error_code"), answer.get("message")) {
                (Some(code), Some(message)) => {
                    bail!(
                        "{method} {path}: {status} (error {code}): {}",
                        message.as_str().unwrap_or_default()
                    )
                }
                _ => bail!("{method} {path}: HTTP {status}"),
            }
        }
        Ok(answer)
    }
}

/// A subject or version as a URL path segment.
fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub async fn run(args: SchemaArgs) -> Result<()> {
    let registry = Registry::new(&args.schema_registry)?;
    let print = |v: &Value| println!("{}", serde_json::to_string(v).unwrap_or_default());
    match args.command {
        SchemaCommand::Register {
            subject,
            text,
            normalize,
        } => {
            let path = format!(
                "/subjects/{}/versions?normalize={normalize}",
                segment(&subject)
            );
            let answer = registry.ok("POST", &path, Some(&text.body()?)).await?;
            print(&answer);
        }
        SchemaCommand::Get {
            subject,
            id,
            version,
        } => {
            let path = match (id, subject) {
                (Some(id), _) => format!("/schemas/ids/{id}"),
                (None, Some(s)) => {
                    format!("/subjects/{}/versions/{}", segment(&s), segment(&version))
                }
                (None, None) => bail!("give SUBJECT or --id"),
            };
            print(&registry.ok("GET", &path, None).await?);
        }
        SchemaCommand::List { subject, deleted } => {
            let path = match subject {
                Some(s) => format!("/subjects/{}/versions?deleted={deleted}", segment(&s)),
                None => format!("/subjects?deleted={deleted}"),
            };
            let answer = registry.ok("GET", &path, None).await?;
            for item in answer.as_array().into_iter().flatten() {
                match item {
                    Value::String(s) => println!("{s}"),
                    other => println!("{other}"),
                }
            }
        }
        SchemaCommand::Delete {
            subject,
            version,
            permanent,
        } => {
            let path = match version {
                Some(v) => format!(
                    "/subjects/{}/versions/{}?permanent={permanent}",
                    segment(&subject),
                    segment(&v)
                ),
                None => format!("/subjects/{}?permanent={permanent}", segment(&subject)),
            };
            print(&registry.ok("DELETE", &path, None).await?);
        }
        SchemaCommand::Check {
            subject,
            text,
            version,
        } => {
            let path = format!(
                "/compatibility/subjects/{}/versions/{}?verbose=true",
                segment(&subject),
                segment(&version)
            );
            let answer = registry.ok("POST", &path, Some(&text.body()?)).await?;
            print(&answer);
            if answer.get("is_compatible") != Some(&Value::Bool(true)) {
                bail!("the schema is not compatible with {subject} version {version}");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_segments() {
        let r = Registry::new("http://127.0.0.1:8081").unwrap();
        assert_eq!(
            (r.address.as_str(), r.prefix.as_str()),
            ("127.0.0.1:8081", "")
        );
        let r = Registry::new("http://registry/api/").unwrap();
        assert_eq!(
            (r.address.as_str(), r.prefix.as_str()),
            ("registry:80", "/api")
        );
        assert!(Registry::new("https://x").is_err());
        assert_eq!(segment("a b/c-value"), "a%20b%2Fc-value");
    }
}
