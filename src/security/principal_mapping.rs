//! `ssl.principal.mapping.rules`: Kafka's rules that turn a TLS client certificate's
//! subject (`CN=carol,OU=eng,O=acme`, as Kafka writes it) into the principal's name.
//!
//! The setting is a comma-separated list of `RULE:pattern/replacement/[LU]` and
//! `DEFAULT` (the subject unchanged), tried in order; the first rule whose pattern
//! matches the whole subject gives the name, lower- or upper-cased with `L`/`U`. The
//! replacement refers to the pattern's groups as `$1`, `$2`, ... (a group the pattern
//! lacks is a literal, as Kafka treats it). A subject no rule matches fails the
//! connection, as in Kafka. Patterns are the `regex` crate's, which reads the patterns
//! Kafka's documentation uses the same way (no look-around or back-references).

use regex::Regex;

#[derive(Debug)]
enum Rule {
    Default,
    Replace {
        pattern: Regex,
        /// The replacement in the `regex` crate's syntax.
        replacement: String,
        lower: bool,
        upper: bool,
    },
}

/// A listener's parsed rules.
#[derive(Debug)]
pub struct SslPrincipalMapper {
    rules: Vec<Rule>,
}

impl Default for SslPrincipalMapper {
    fn default() -> Self {
        SslPrincipalMapper {
            rules: vec![Rule::Default],
        }
    }
}

impl SslPrincipalMapper {
    /// Parses the setting; an empty text is `DEFAULT`. The error names the bad rule.
    pub fn parse(text: &str) -> Result<SslPrincipalMapper, String> {
        let b: Vec<char> = text.trim().chars().collect();
        if b.is_empty() {
            return Ok(SslPrincipalMapper::default());
        }
        let mut rules = Vec::new();
        let mut i = 0;
        let starts = |i: usize, s: &str| b[i..].iter().copied().take(s.len()).eq(s.chars());
        loop {
            while i < b.len() && b[i].is_whitespace() {
                i += 1;
            }
            if i >= b.len() {
                break;
            }
            let start = i;
            if starts(i, "DEFAULT") {
                i += "DEFAULT".len();
                rules.push(Rule::Default);
            } else if starts(i, "RULE:") {
                i += "RULE:".len();
                let pattern = read_part(&b, &mut i);
                let replacement = (b.get(i) == Some(&'/')).then(|| {
                    i += 1;
                    read_part(&b, &mut i)
                });
                let (Some(replacement), Some('/')) = (replacement, b.get(i)) else {
                    return Err(format!(
                        "Invalid rule: `{}`",
                        b[start..].iter().collect::<String>()
                    ));
                };
                i += 1;
                let (lower, upper) = match b.get(i) {
                    Some('L') => (true, false),
                    Some('U') => (false, true),
                    _ => (false, false),
                };
                if lower || upper {
                    i += 1;
                }
                // Kafka lets anything follow up to the next comma.
                while i < b.len() && b[i] != ',' {
                    i += 1;
                }
                let anchored = format!("^(?:{pattern})$");
                let pattern = Regex::new(&anchored)
                    .map_err(|e| format!("Invalid rule pattern `{pattern}`: {e}"))?;
                let groups = pattern.captures_len() - 1;
                rules.push(Rule::Replace {
                    replacement: java_replacement(&replacement, groups),
                    pattern,
                    lower,
                    upper,
                });
            } else {
                let end = b[i..]
                    .iter()
                    .position(|c| *c == ',')
                    .map_or(b.len(), |p| i + p);
                return Err(format!(
                    "Invalid rule: `{}`",
                    b[start..end].iter().collect::<String>()
                ));
            }
            while i < b.len() && b[i].is_whitespace() {
                i += 1;
            }
            match b.get(i) {
                None => break,
                Some(',') => i += 1,
                Some(_) => {
                    let end = b[i..]
                        .iter()
                        .position(|c| *c == ',')
                        .map_or(b.len(), |p| i + p);
                    return Err(format!(
                        "Invalid rule: `{}`, unmatched substring: `{}`",
                        b[start..end].iter().collect::<String>(),
                        b[i..end].iter().collect::<String>()
                    ));
                }
            }
        }
        Ok(SslPrincipalMapper { rules })
    }

    /// The principal name for this subject, or `None` when no rule applies.
    pub fn name(&self, subject: &str) -> Option<String> {
        self.rules.iter().find_map(|rule| match rule {
            Rule::Default => Some(subject.to_string()),
            Rule::Replace {
                pattern,
                replacement,
                lower,
                upper,
            } => {
                let caps = pattern.captures(subject)?;
                let mut out = String::new();
                caps.expand(replacement, &mut out);
                Some(if *lower {
                    out.to_lowercase()
                } else if *upper {
                    out.to_uppercase()
                } else {
                    out
                })
            }
        })
    }
}

/// One `/`-delimited part of a rule: up to the next `/` that no backslash escapes
/// (escapes are kept for the pattern to read).
fn read_part(b: &[char], i: &mut usize) -> String {
    let mut out = String::new();
    while *i < b.len() && b[*i] != '/' {
        if b[*i] == '\\' && *i + 1 < b.len() {
            out.push(b[*i]);
            *i += 1;
        }
        out.push(b[*i]);
        *i += 1;
    }
    out
}

/// A Java replacement (`$n` group references, `\x` literal x) in the `regex` crate's
/// syntax. Digits after `$` extend the group number while it stays within the
/// pattern's groups; a first digit beyond them makes the `$` literal.
fn java_replacement(java: &str, groups: usize) -> String {
    let b: Vec<char> = java.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            '\\' if i + 1 < b.len() => {
                match b[i + 1] {
                    '$' => out.push_str("$$"),
                    c => out.push(c),
                }
                i += 2;
            }
            '$' => {
                let digits: String = b[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit())
                    .collect();
                let mut n: usize = 0;
                let mut used = 0;
                for d in digits.chars() {
                    let next = n * 10 + d.to_digit(10).unwrap() as usize;
                    if next > groups {
                        break;
                    }
                    n = next;
                    used += 1;
                }
                if used == 0 {
                    out.push_str("$$");
                    i += 1;
                } else {
                    out.push_str(&format!("${{{n}}}"));
                    i += 1 + used;
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafkas_documented_rules() {
        let m = SslPrincipalMapper::parse(
            "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/, RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,\
             RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/U, DEFAULT",
        )
        .unwrap();
        assert_eq!(
            m.name("CN=kafka1,OU=ServiceUsers,O=Unknown,L=Unknown,ST=Unknown,C=Unknown")
                .as_deref(),
            Some("kafka1")
        );
        assert_eq!(
            m.name("CN=duke,OU=JavaSoft,O=Sun Microsystems,L=Cupertino,ST=CA,C=US")
                .as_deref(),
            Some("duke@javasoft")
        );
        assert_eq!(m.name("OU=x,cn=carol,O=acme").as_deref(), Some("CAROL"));
        assert_eq!(m.name("O=nobody").as_deref(), Some("O=nobody"));
    }

    #[test]
    fn no_match_without_default_and_literal_group_references() {
        let m = SslPrincipalMapper::parse("RULE:^CN=([a-z]+),.*$/$1-$2\\/x/").unwrap();
        assert_eq!(m.name("CN=ann,O=a").as_deref(), Some("ann-$2/x"));
        assert_eq!(m.name("O=a"), None);
        let m = SslPrincipalMapper::parse("RULE:^CN=(.)(.)(.)(.)(.)(.)(.)(.)(.)(.)(.*)$/$11$12/")
            .unwrap();
        assert_eq!(m.name("CN=abcdefghijkl").as_deref(), Some("kla2"));
        assert_eq!(
            SslPrincipalMapper::parse("")
                .unwrap()
                .name("CN=x")
                .as_deref(),
            Some("CN=x")
        );
    }

    #[test]
    fn bad_rules_are_refused() {
        for bad in [
            "RULE:^CN=(.*)$",
            "RULE:^CN=(.*)$/$1",
            "DEFAULTX",
            "NOPE",
            "RULE:^CN=((.*)$/$1/",
            "DEFAULT DEFAULT",
        ] {
            assert!(SslPrincipalMapper::parse(bad).is_err(), "{bad}");
        }
        // Kafka ignores what follows the flag up to the next comma.
        assert!(SslPrincipalMapper::parse("RULE:a/b/Lxyz , DEFAULT").is_ok());
    }
}
