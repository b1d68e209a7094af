//! Kafka's JAAS line for PLAIN users, as a broker's `plain.sasl.jaas.config` holds it:
//! `org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";`
//!
//! Only the parts a broker reads are understood: one login module, its control flag and
//! `key=value` options (values quoted or bare). `user_<name>` options are the PLAIN users.

use std::collections::BTreeMap;

/// The PLAIN login module's class, the only one whose options name users.
pub const PLAIN_LOGIN_MODULE: &str = "org.apache.kafka.common.security.plain.PlainLoginModule";

/// One parsed JAAS entry: the module class and its options.
#[derive(Debug, PartialEq, Eq)]
pub struct JaasEntry {
    pub login_module: String,
    pub options: BTreeMap<String, String>,
}

/// Parses one JAAS entry (`Module flag key=value ...;`). Errors say what is wrong
/// without repeating the line (it holds passwords).
pub fn parse(line: &str) -> Result<JaasEntry, String> {
    let t = line.trim();
    if t.is_empty() {
        return Err("empty JAAS configuration".into());
    }
    let (login_module, rest) = t.split_once(char::is_whitespace).ok_or(
        "JAAS configuration has no control flag (required, requisite, sufficient or optional)",
    )?;
    let rest = rest.trim_start();
    let (flag, rest) = match rest.find(|c: char| c.is_whitespace() || c == ';') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if !matches!(flag, "required" | "requisite" | "sufficient" | "optional") {
        return Err(format!(
            "JAAS control flag `{flag}` is not required, requisite, sufficient or optional"
        ));
    }
    let login_module = login_module.to_string();
    let options = parse_options(rest)?;
    Ok(JaasEntry {
        login_module,
        options,
    })
}

fn parse_options(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut options = BTreeMap::new();
    let b: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut ended = false;
    loop {
        while i < b.len() && b[i].is_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        if b[i] == ';' {
            ended = true;
            i += 1;
            while i < b.len() && b[i].is_whitespace() {
                i += 1;
            }
            if i < b.len() {
                return Err("only one JAAS login module per setting is supported".into());
            }
            break;
        }
        let start = i;
        while i < b.len() && b[i] != '=' && !b[i].is_whitespace() && b[i] != ';' {
            i += 1;
        }
        let key: String = b[start..i].iter().collect();
        if i >= b.len() || b[i] != '=' || key.is_empty() {
            return Err(format!("JAAS option `{key}` has no =value"));
        }
        i += 1;
        let value = if i < b.len() && b[i] == '"' {
            i += 1;
            let mut v = String::new();
            loop {
                match b.get(i) {
                    None => return Err(format!("JAAS option `{key}`: unterminated quoted value")),
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some('\\') if i + 1 < b.len() => {
                        v.push(b[i + 1]);
                        i += 2;
                    }
                    Some(&c) => {
                        v.push(c);
                        i += 1;
                    }
                }
            }
            v
        } else {
            let start = i;
            while i < b.len() && !b[i].is_whitespace() && b[i] != ';' {
                i += 1;
            }
            b[start..i].iter().collect()
        };
        options.insert(key, value);
    }
    if !ended {
        return Err("JAAS configuration must end with `;`".into());
    }
    Ok(options)
}

/// The PLAIN users (name -> password) of a JAAS line; empty text means none.
pub fn plain_users(line: &str) -> Result<BTreeMap<String, String>, String> {
    if line.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    let entry = parse(line)?;
    if entry.login_module != PLAIN_LOGIN_MODULE {
        return Err(format!(
            "login module {} is not {PLAIN_LOGIN_MODULE}",
            entry.login_module
        ));
    }
    Ok(entry
        .options
        .into_iter()
        .filter_map(|(k, v)| k.strip_prefix("user_").map(|u| (u.to_string(), v)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafkas_plain_line_gives_its_users() {
        let users = plain_users(
            "org.apache.kafka.common.security.plain.PlainLoginModule required \
             username=\"admin\" password=\"admin-secret\" \
             user_admin=\"admin-secret\" user_alice=\"alice secret=\\\"q\\\"\" user_bob=bare;",
        )
        .unwrap();
        assert_eq!(users.len(), 3);
        assert_eq!(users["alice"], "alice secret=\"q\"");
        assert_eq!(users["bob"], "bare");
        assert_eq!(users["admin"], "admin-secret");
    }

    #[test]
    fn bad_lines_are_refused_without_echoing_them() {
        for (line, says) in [
            (
                "org.apache.kafka.common.security.plain.PlainLoginModule required user_a=\"x\"",
                "end with",
            ),
            (
                "org.apache.kafka.common.security.plain.PlainLoginModule maybe user_a=\"x\";",
                "control flag",
            ),
            (
                "org.apache.kafka.common.security.plain.PlainLoginModule required user_a=\"x;",
                "unterminated",
            ),
            ("com.example.Other required user_a=\"x\";", "is not"),
            (
                "org.apache.kafka.common.security.plain.PlainLoginModule required user_a;",
                "no =value",
            ),
        ] {
            let e = plain_users(line).unwrap_err();
            assert!(e.contains(says), "{line}: {e}");
            assert!(!e.contains("\"x\""), "{e}");
        }
        assert!(plain_users("  ").unwrap().is_empty());
    }
}
