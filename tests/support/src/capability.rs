//! Capabilities as Ably's server treats them: shape validation of a requested capability,
//! narrowing against a key's, and matching a channel by `:`-separated segments.
//!
//! Written from the rules of ably-server (`internal/auth/capability.go` at c69f0756e57b):
//!
//! * A requested capability is a JSON object of string arrays; every list is non-empty, `*` is
//!   never mixed with another operation, and every other operation is one of [`OPERATIONS`]
//!   (else 40000/400).
//! * A resource is `[qualifier]name`; the name is a path of `:`-separated segments. Only a whole
//!   segment `*` is a wildcard (`chat*` is a literal name); a trailing `*` matches any number of
//!   segments, none included (`chat:*` covers `chat`); an inner `*` matches exactly one.
//! * Narrowing intersects every (requested, key) pair: operations (`*` is the identity),
//!   qualifiers (`*` yields the other side's, so `[*]*` narrowed by `*` becomes `*`) and paths
//!   (the more specific survives; paths of different length only meet where the shorter ends
//!   in `*`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// Resource pattern → operations.
pub type Capability = BTreeMap<String, BTreeSet<String>>;

/// The operation names ably-server accepts in a requested capability (besides `*`).
pub const OPERATIONS: [&str; 22] = [
    "publish",
    "subscribe",
    "presence",
    "history",
    "stats",
    "message-subscribe",
    "presence-subscribe",
    "message-update-own",
    "message-update-any",
    "message-delete-own",
    "message-delete-any",
    "annotation-publish",
    "annotation-subscribe",
    "push-subscribe",
    "push-admin",
    "channel-metadata",
    "channel-metadata:publishers",
    "object-subscribe",
    "object-publish",
    "list-channels",
    "privileged-headers",
    "connection-metadata",
];

/// Decodes a capability JSON as Go decodes it into `map[string][]string`: an object of string
/// arrays, where `null` (for the whole, or for a list) is empty. `None` if the shape is wrong.
pub fn parse(s: &str) -> Option<Capability> {
    match serde_json::from_str::<Value>(s).ok()? {
        Value::Null => Some(Capability::new()),
        Value::Object(map) => map
            .into_iter()
            .map(|(resource, ops)| {
                let ops = match ops {
                    Value::Null => BTreeSet::new(),
                    Value::Array(list) => list
                        .into_iter()
                        .map(|op| op.as_str().map(str::to_string))
                        .collect::<Option<_>>()?,
                    _ => return None,
                };
                Some((resource, ops))
            })
            .collect(),
        _ => None,
    }
}

/// Checks a requested capability's shape; the error says what is wrong.
pub fn validate(s: &str) -> Result<(), String> {
    let bad = || "capability is not a JSON object of string arrays".to_string();
    let map = match serde_json::from_str::<Value>(s).map_err(|_| bad())? {
        Value::Null => return Ok(()),
        Value::Object(map) => map,
        _ => return Err(bad()),
    };
    for (resource, ops) in &map {
        // The lists as sent, duplicates included.
        let ops: Vec<&str> = match ops {
            Value::Null => Vec::new(),
            Value::Array(list) => list
                .iter()
                .map(Value::as_str)
                .collect::<Option<_>>()
                .ok_or_else(bad)?,
            _ => return Err(bad()),
        };
        if ops.is_empty() {
            return Err(format!("resource {resource:?} has no operations"));
        }
        for op in &ops {
            if *op == "*" {
                if ops.len() != 1 {
                    return Err(format!(
                        "resource {resource:?} mixes \"*\" with other operations"
                    ));
                }
            } else if !OPERATIONS.contains(op) {
                return Err(format!(
                    "resource {resource:?} has invalid operation {op:?}"
                ));
            }
        }
    }
    Ok(())
}

/// Canonical form: resources and operations sorted, no whitespace.
pub fn canonical(cap: &Capability) -> String {
    serde_json::to_string(cap).expect("a capability serialises")
}

/// The qualifier type (without `=param` / `?query`) and the name's segments of a resource.
/// A `[` without a closing `]` is part of a literal name.
fn parse_resource(resource: &str) -> (&str, Vec<&str>) {
    let mut qualifier = "";
    let mut name = resource;
    if let Some(rest) = resource.strip_prefix('[')
        && let Some(end) = rest.find(']')
        && end > 0
    {
        qualifier = &rest[..end];
        name = &rest[end + 1..];
        if let Some(i) = qualifier.find(['=', '?']) {
            qualifier = &qualifier[..i];
        }
    }
    (qualifier, name.split(':').collect())
}

fn paths_match(pattern: &[&str], channel: &[&str]) -> bool {
    for (i, seg) in pattern.iter().enumerate() {
        if *seg == "*" {
            if i == pattern.len() - 1 {
                return true;
            }
            if i >= channel.len() {
                return false;
            }
            continue;
        }
        if channel.get(i) != Some(seg) {
            return false;
        }
    }
    channel.len() == pattern.len()
}

/// Whether the resource pattern covers the (unqualified) channel name.
pub fn matches(pattern: &str, channel: &str) -> bool {
    let (qualifier, segments) = parse_resource(pattern);
    (qualifier.is_empty() || qualifier == "*")
        && paths_match(&segments, &channel.split(':').collect::<Vec<_>>())
}

/// Whether `cap` grants `op` on `channel`; with `op` `None`, any operation.
pub fn permits(cap: &Capability, channel: &str, op: Option<&str>) -> bool {
    cap.iter().any(|(pattern, ops)| {
        matches(pattern, channel)
            && match op {
                None => !ops.is_empty(),
                Some(op) => ops.contains("*") || ops.contains(op),
            }
    })
}

fn intersect_ops(a: &BTreeSet<String>, b: &BTreeSet<String>) -> BTreeSet<String> {
    match (a.contains("*"), b.contains("*")) {
        (true, true) => BTreeSet::from(["*".to_string()]),
        (true, false) => b.clone(),
        (false, true) => a.clone(),
        (false, false) => a.intersection(b).cloned().collect(),
    }
}

fn intersect_qualifier<'a>(l: &'a str, r: &'a str) -> Option<&'a str> {
    match (l, r) {
        ("*", _) => Some(r),
        (_, "*") => Some(l),
        _ if l == r => Some(l),
        _ => None,
    }
}

fn intersect_path<'a>(l: &[&'a str], r: &[&'a str]) -> Option<Vec<&'a str>> {
    let (short, long) = if r.len() < l.len() { (r, l) } else { (l, r) };
    if short.len() != long.len() && short.last() != Some(&"*") {
        return None;
    }
    let mut merged = Vec::with_capacity(long.len());
    for (i, seg) in short.iter().enumerate() {
        if *seg == "*" {
            if i == short.len() - 1 {
                merged.extend_from_slice(&long[i..]);
                return Some(merged);
            }
            merged.push(long[i]);
        } else if long[i] == "*" || long[i] == *seg {
            merged.push(*seg);
        } else {
            return None;
        }
    }
    Some(merged)
}

/// `requested` narrowed by `key`: what both grant, per resource pair.
pub fn intersect(requested: &Capability, key: &Capability) -> Capability {
    let mut out = Capability::new();
    for (l, lops) in requested {
        let (lq, lpath) = parse_resource(l);
        for (r, rops) in key {
            let ops = intersect_ops(lops, rops);
            if ops.is_empty() {
                continue;
            }
            let (rq, rpath) = parse_resource(r);
            let (Some(q), Some(path)) =
                (intersect_qualifier(lq, rq), intersect_path(&lpath, &rpath))
            else {
                continue;
            };
            let name = path.join(":");
            let resource = if q.is_empty() {
                name
            } else {
                format!("[{q}]{name}")
            };
            out.entry(resource).or_default().extend(ops);
        }
    }
    out
}

/// Whether nothing is granted.
pub fn is_empty(cap: &Capability) -> bool {
    cap.values().all(BTreeSet::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(s: &str) -> Capability {
        parse(s).unwrap()
    }

    #[test]
    fn segment_matching() {
        assert!(matches("chat:*", "chat"));
        assert!(matches("chat:*", "chat:a:b"));
        assert!(!matches("chat*", "chatroom"));
        assert!(matches("chat*", "chat*"));
        assert!(matches("a:*:c", "a:b:c"));
        assert!(!matches("a:*:c", "a:b:x:c"));
        assert!(matches("[*]*", "anything:at:all"));
        assert!(!matches("[meta]*", "x"));
        assert!(matches("[open", "[open"));
    }

    #[test]
    fn narrowing() {
        let all = cap(r#"{"*":["*"]}"#);
        assert_eq!(
            canonical(&intersect(&cap(r#"{"[*]*":["*"]}"#), &all)),
            r#"{"*":["*"]}"#
        );
        let key = cap(r#"{"chat:*":["publish","subscribe"]}"#);
        assert_eq!(
            canonical(&intersect(
                &cap(r#"{"chat:a":["publish","history"]}"#),
                &key
            )),
            r#"{"chat:a":["publish"]}"#
        );
        // Paths of different length meet only where the shorter ends in `*`.
        assert!(is_empty(&intersect(&cap(r#"{"chat":["publish"]}"#), &key)));
        assert_eq!(
            canonical(&intersect(&cap(r#"{"*":["subscribe"]}"#), &key)),
            r#"{"chat:*":["subscribe"]}"#
        );
    }

    #[test]
    fn shape() {
        assert!(validate(r#"{"a":["publish","message-subscribe"]}"#).is_ok());
        assert!(validate("null").is_ok());
        assert!(validate(r#"{"a":[]}"#).is_err());
        assert!(validate(r#"{"a":null}"#).is_err());
        assert!(validate(r#"{"a":["*","publish"]}"#).is_err());
        assert!(validate(r#"{"a":["*","*"]}"#).is_err());
        assert!(validate(r#"{"a":["teleport"]}"#).is_err());
        assert!(validate(r#"{"a":"publish"}"#).is_err());
        assert!(validate("[1]").is_err());
    }
}
