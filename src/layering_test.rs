//! Keeps the layer map in `lib.rs` true: every `crate::<module>` path in a module's
//! code (comments aside) must point at the same layer or one below it.
//!
//! From the socket down: server -> api -> broker (the composition root, which the
//! handlers read their parts from) -> coordinator -> topics -> log. `config` sits just
//! above `log` (it resolves `LogConfig`); `clock`, `error` and `metrics` sit below
//! everything.
//! `cli` is a Kafka client beside the broker: it may read segment files through `log`
//! but never the broker's in-memory parts.

use std::path::{Path, PathBuf};

/// (module, rank): a module may use modules of equal or lower rank.
const RANKS: &[(&str, i32)] = &[
    ("clock", 0),
    ("confluent_framing", 0),
    ("metrics", 0),
    ("error", 0),
    ("log", 1),
    ("config", 2),
    ("topics", 3),
    ("coordinator", 4),
    ("schema_registry", 4),
    ("security", 4),
    ("broker", 5),
    ("api", 6),
    ("server", 7),
    ("http", 7),
    ("embedded", 8),
    ("fuzzing", 8),
];

/// Items of the crate root (`lib.rs`) that modules may name as `crate::<item>`, with their
/// rank: `run` wires server and http, so only what sits above them may call it.
const ROOT_ITEMS: &[(&str, i32)] = &[("run", 8)];

/// Modules outside the broker's stack, with what each may use.
const OUTSIDERS: &[(&str, &[&str])] = &[(
    "cli",
    &[
        "cli",
        "log",
        "clock",
        "error",
        "security",
        "confluent_framing",
    ],
)];

fn rank(module: &str) -> Option<i32> {
    RANKS
        .iter()
        .chain(ROOT_ITEMS)
        .find(|(m, _)| *m == module)
        .map(|(_, r)| *r)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `crate::<name>` in the file's code, with its line number.
fn crate_paths(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let tail = &rest[i + "crate::".len()..];
            let name: String = tail
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            out.push((n + 1, name));
            rest = tail;
        }
    }
    out
}

#[test]
fn every_module_imports_only_its_own_layer_or_below() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    let mut checked = 0;
    let modules = RANKS
        .iter()
        .map(|(m, _)| *m)
        .chain(OUTSIDERS.iter().map(|(m, _)| *m));
    for module in modules {
        let mut files = Vec::new();
        let dir = src.join(module);
        if dir.is_dir() {
            rust_files(&dir, &mut files);
        }
        let single = src.join(format!("{module}.rs"));
        if single.is_file() {
            files.push(single);
        }
        assert!(!files.is_empty(), "no source for module {module}");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for (line, used) in crate_paths(&text) {
                checked += 1;
                let allowed = match (rank(module), rank(&used)) {
                    (Some(mine), Some(theirs)) => theirs <= mine,
                    (None, _) => OUTSIDERS
                        .iter()
                        .find(|(m, _)| *m == module)
                        .is_some_and(|(_, ok)| ok.contains(&used.as_str())),
                    // `crate::cli` etc. from inside the stack.
                    (Some(_), None) => false,
                };
                if !allowed {
                    violations.push(format!(
                        "{}:{line}: {module} uses crate::{used}",
                        file.strip_prefix(&src).unwrap().display()
                    ));
                }
            }
        }
    }
    assert!(checked > 100, "the scan found only {checked} crate paths");
    assert!(
        violations.is_empty(),
        "imports against the layer map (see src/layering_test.rs):\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_scan_sees_paths_in_code_and_ignores_comments() {
    let text = "use crate::log::batch; // crate::server is only mentioned\n//! crate::api\nlet x = crate::topics::TopicPartition::default();";
    let found: Vec<String> = crate_paths(text).into_iter().map(|(_, m)| m).collect();
    assert_eq!(found, ["log", "topics"]);
}
