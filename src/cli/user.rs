//! `sluice user add|list|remove`: SCRAM users over the Kafka protocol
//! (AlterUserScramCredentials, DescribeUserScramCredentials), what
//! `kafka-configs --entity-type users --alter --add-config 'SCRAM-SHA-512=[password=...]'`
//! does, so it works against any Kafka broker.
//!
//! The password is salted and hashed here (PBKDF2, `crate::security::scram`'s formula)
//! and never leaves this process: the broker receives the salt and the salted password
//! only, as Kafka's admin clients send them. It must never touch a data directory.

use anyhow::{bail, Result};
use bytes::Bytes;
use clap::{Args, Subcommand};
use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, DescribeUserScramCredentialsRequest,
};
use kafka_protocol::protocol::StrBytes;

use super::client::{check_code, Connection};
use super::output::table;
use super::BootstrapArgs;
use crate::security::scram::{random_bytes, ScramMechanism, MAX_ITERATIONS, MIN_ITERATIONS};

#[derive(Args, Debug)]
pub struct UserArgs {
    #[command(flatten)]
    pub bootstrap: BootstrapArgs,
    #[command(subcommand)]
    pub command: UserCommand,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a SCRAM user or change its password.
    Add {
        name: String,
        /// The password [default: one line read from stdin].
        #[arg(long)]
        password: Option<String>,
        /// SCRAM-SHA-256 or SCRAM-SHA-512; repeatable [default: both].
        #[arg(short, long = "mechanism", value_name = "MECHANISM")]
        mechanisms: Vec<String>,
        /// PBKDF2 iterations (4096..=16384, Kafka's bounds).
        #[arg(long, default_value_t = 8192)]
        iterations: i32,
    },
    /// List SCRAM users with their mechanisms and iteration counts [default: all].
    List { names: Vec<String> },
    /// Remove a SCRAM user's credentials.
    Remove {
        name: String,
        /// Only this mechanism's credential; repeatable [default: every one it has].
        #[arg(short, long = "mechanism", value_name = "MECHANISM")]
        mechanisms: Vec<String>,
    },
}

fn mechanisms(names: &[String]) -> Result<Vec<ScramMechanism>> {
    if names.is_empty() {
        return Ok(ScramMechanism::ALL.to_vec());
    }
    names
        .iter()
        .map(|n| {
            ScramMechanism::from_name(&n.to_ascii_uppercase()).ok_or_else(|| {
                anyhow::anyhow!("unknown mechanism `{n}` (SCRAM-SHA-256 or SCRAM-SHA-512)")
            })
        })
        .collect()
}

pub async fn run(args: UserArgs) -> Result<()> {
    let mut conn = Connection::connect(&args.bootstrap.bootstrap).await?;
    match args.command {
        UserCommand::Add {
            name,
            password,
            mechanisms: m,
            iterations,
        } => {
            if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
                bail!("--iterations must be within {MIN_ITERATIONS}..={MAX_ITERATIONS}");
            }
            let password = match password {
                Some(p) => p,
                None => {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            if password.is_empty() {
                bail!("the password is empty");
            }
            let mut req = AlterUserScramCredentialsRequest::default();
            for mechanism in mechanisms(&m)? {
                let salt = random_bytes(32);
                let salted =
                    mechanism.salted_password(password.as_bytes(), &salt, iterations as u32);
                let mut u = ScramCredentialUpsertion::default();
                u.name = StrBytes::from_string(name.clone());
                u.mechanism = mechanism.type_code();
                u.iterations = iterations;
                u.salt = Bytes::from(salt);
                u.salted_password = Bytes::from(salted);
                req.upsertions.push(u);
            }
            alter(&mut conn, &req).await?;
            println!("user {name}: credentials set");
        }
        UserCommand::List { names } => {
            let mut req = DescribeUserScramCredentialsRequest::default();
            req.users = (!names.is_empty()).then(|| {
                names
                    .iter()
                    .map(|n| {
                        let mut u = UserName::default();
                        u.name = StrBytes::from_string(n.clone());
                        u
                    })
                    .collect()
            });
            let resp = conn.send(&req, 0).await?;
            check_code(
                resp.error_code,
                resp.error_message.as_ref(),
                "describe users",
            )?;
            let mut rows = Vec::new();
            for r in &resp.results {
                check_code(
                    r.error_code,
                    r.error_message.as_ref(),
                    &format!("user {}", r.user),
                )?;
                for c in &r.credential_infos {
                    let m = ScramMechanism::from_type_code(c.mechanism)
                        .map(|m| m.name().to_string())
                        .unwrap_or_else(|| format!("mechanism {}", c.mechanism));
                    rows.push(vec![r.user.to_string(), m, c.iterations.to_string()]);
                }
            }
            print!("{}", table(&["USER", "MECHANISM", "ITERATIONS"], &rows));
        }
        UserCommand::Remove {
            name,
            mechanisms: m,
        } => {
            let wanted = if m.is_empty() {
                // Every mechanism the user has, so `remove` without flags just works.
                let mut req = DescribeUserScramCredentialsRequest::default();
                let mut u = UserName::default();
                u.name = StrBytes::from_string(name.clone());
                req.users = Some(vec![u]);
                let resp = conn.send(&req, 0).await?;
                check_code(
                    resp.error_code,
                    resp.error_message.as_ref(),
                    "describe users",
                )?;
                let r = resp
                    .results
                    .first()
                    .ok_or_else(|| anyhow::anyhow!("no answer for user {name}"))?;
                check_code(
                    r.error_code,
                    r.error_message.as_ref(),
                    &format!("user {name}"),
                )?;
                r.credential_infos.iter().map(|c| c.mechanism).collect()
            } else {
                mechanisms(&m)?
                    .into_iter()
                    .map(|m| m.type_code())
                    .collect::<Vec<_>>()
            };
            let mut req = AlterUserScramCredentialsRequest::default();
            for mechanism in wanted {
                let mut d = ScramCredentialDeletion::default();
                d.name = StrBytes::from_string(name.clone());
                d.mechanism = mechanism;
                req.deletions.push(d);
            }
            alter(&mut conn, &req).await?;
            println!("user {name}: credentials removed");
        }
    }
    Ok(())
}

async fn alter(conn: &mut Connection, req: &AlterUserScramCredentialsRequest) -> Result<()> {
    let resp = conn.send(req, 0).await?;
    for r in &resp.results {
        check_code(
            r.error_code,
            r.error_message.as_ref(),
            &format!("user {}", r.user),
        )?;
    }
    Ok(())
}
