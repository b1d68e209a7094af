//! The in-flight section of `sluice group describe` for a share group: per
//! share-partition, the records acquired (by which member, how long the lock has left)
//! and the delivery counts of the others past the start offset.
//!
//! No Kafka API carries this (DescribeShareGroupOffsets stops at the start offset and
//! the lag), so it comes from the console API of the broker's admin HTTP side
//! (`GET /api/share-groups/{group}`, `sluice.http.listen`), logged in as the command's
//! SASL user when the broker asks for a login. It never fails the command: when the
//! HTTP side cannot answer, it prints why and where it looked.

use hyper::Method;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::Value;

use super::http_client::{request, HttpAnswer};
use super::output::table;

/// The admin HTTP port a broker listens on by default (`sluice.http.listen`).
const DEFAULT_HTTP_PORT: u16 = 9644;

/// Where to ask: `--http`, else the bootstrap host at the default admin port.
pub fn http_address(explicit: Option<&str>, bootstrap: &str) -> String {
    if let Some(a) = explicit {
        return a.trim().to_string();
    }
    let first = bootstrap.split(',').next().unwrap_or(bootstrap).trim();
    let host = first.rsplit_once(':').map_or(first, |(h, _)| h);
    format!("{host}:{DEFAULT_HTTP_PORT}")
}

/// Prints the section; every failure becomes a line saying what is not shown and why.
pub async fn print(address: &str, group: &str) {
    println!();
    match fetch(address, group).await {
        Ok(partitions) => print_runs(address, &partitions),
        Err(why) => println!("In flight: not shown ({why})"),
    }
}

async fn fetch(address: &str, group: &str) -> Result<Vec<Value>, String> {
    let path = format!(
        "/api/share-groups/{}",
        utf8_percent_encode(group, NON_ALPHANUMERIC)
    );
    let get = |cookie: Option<String>| {
        let path = path.clone();
        async move {
            request(address, Method::GET, &path, None, cookie.as_deref())
                .await
                .map_err(|e| {
                    format!("{e:#}; give --http HOST:PORT, the broker's sluice.http.listen")
                })
        }
    };
    let mut answer = get(None).await?;
    if answer.status == 401 {
        let Some((user, password)) = super::security::sasl_credentials() else {
            return Err(format!(
                "the console at {address} asks for a login: give --sasl-username and --sasl-password"
            ));
        };
        let body = serde_json::json!({"user": user, "password": password}).to_string();
        let login = request(address, Method::POST, "/api/login", Some(body), None)
            .await
            .map_err(|e| format!("{e:#}"))?;
        let Some(cookie) = login.cookie.clone().filter(|_| login.status == 200) else {
            return Err(format!(
                "login to the console at {address}: {}",
                summary(&login)
            ));
        };
        answer = get(Some(cookie)).await?;
    }
    if answer.status != 200 {
        return Err(format!("GET {path} at {address}: {}", summary(&answer)));
    }
    let doc: Value = serde_json::from_str(&answer.body)
        .map_err(|e| format!("the answer of {address} is not JSON: {e}"))?;
    Ok(doc["offsets"].as_array().cloned().unwrap_or_default())
}

fn summary(answer: &HttpAnswer) -> String {
    let error = serde_json::from_str::<Value>(&answer.body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| answer.body.chars().take(200).collect());
    format!("HTTP {} {error}", answer.status)
}

fn print_runs(address: &str, partitions: &[Value]) {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut truncated = false;
    for p in partitions {
        let Some(in_flight) = p["in_flight"].as_object() else {
            continue;
        };
        truncated |= in_flight["truncated"].as_bool().unwrap_or(false);
        for run in in_flight["runs"].as_array().into_iter().flatten() {
            let (first, last) = (&run["first_offset"], &run["last_offset"]);
            let offsets = if first == last {
                first.to_string()
            } else {
                format!("{first}-{last}")
            };
            let text = |v: &Value| v.as_str().map_or_else(|| "-".to_string(), str::to_string);
            let number = |v: &Value| {
                v.as_i64()
                    .map_or_else(|| "-".to_string(), |n| n.to_string())
            };
            rows.push(vec![
                text(&p["topic"]),
                number(&p["partition"]),
                offsets,
                text(&run["state"]),
                number(&run["delivery_count"]),
                text(&run["member_id"]),
                number(&run["lock_remaining_ms"]),
            ]);
        }
    }
    if rows.is_empty() {
        println!("In flight: nothing (from the admin HTTP side at {address})");
        return;
    }
    println!("In flight (from the admin HTTP side at {address}):");
    print!(
        "{}",
        table(
            &[
                "TOPIC",
                "PARTITION",
                "OFFSETS",
                "STATE",
                "DELIVERIES",
                "MEMBER",
                "LOCK-LEFT-MS"
            ],
            &rows
        )
    );
    if truncated {
        println!("(only the first runs of a share-partition are listed)");
    }
}

#[cfg(test)]
mod tests {
    use super::http_address;

    #[test]
    fn the_admin_address_defaults_to_the_bootstrap_host() {
        assert_eq!(http_address(None, "127.0.0.1:9092"), "127.0.0.1:9644");
        assert_eq!(http_address(None, "a:1,b:2"), "a:9644");
        assert_eq!(http_address(None, "[::1]:9092"), "[::1]:9644");
        assert_eq!(http_address(Some(" h:1 "), "x:9092"), "h:1");
    }
}
