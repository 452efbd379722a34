//! Capabilities: parsing, validation and the canonical JSON form that is both signed and sent
//! (RSA6, RSA9f, TK2b; checklist §2.4 "Capability canonicalisation").

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::error::{ErrorInfo, Result};

/// The operations this library knows Ably to grant, plus the wildcard `*`: documentation,
/// and the list an Auth compares with to log (at debug) an operation it does not know.
/// Capabilities are validated by shape, not against this list ([`is_well_formed_operation`]),
/// since Ably adds operations (and accepts unknown names, which grant nothing).
pub const KNOWN_OPERATIONS: &[&str] = &[
    "*",
    "publish",
    "subscribe",
    "presence",
    "history",
    "stats",
    "channel-metadata",
    "channel-metadata:publishers",
    "connection-metadata",
    "list-channels",
    "message-subscribe",
    "presence-subscribe",
    "push-subscribe",
    "push-admin",
    "privileged-headers",
    "object-subscribe",
    "object-publish",
    "annotation-subscribe",
    "annotation-publish",
    "message-update-own",
    "message-update-any",
    "message-delete-own",
    "message-delete-any",
];

/// Whether `op` has the shape of an Ably operation name: `*`, or lowercase ASCII words of
/// letters and digits joined by single `-` or `:` (`publish`, `channel-metadata:publishers`).
pub fn is_well_formed_operation(op: &str) -> bool {
    if op == "*" {
        return true;
    }
    let mut previous_separator = true; // no separator first
    for c in op.chars() {
        match c {
            'a'..='z' | '0'..='9' => previous_separator = false,
            '-' | ':' if !previous_separator => previous_separator = true,
            _ => return false,
        }
    }
    !op.is_empty() && !previous_separator
}

/// The operations of canonical capability JSON that are not in [`KNOWN_OPERATIONS`]
/// (empty when the text does not parse).
pub fn unknown_operations(json: &str) -> Vec<String> {
    Capability::parse(json)
        .map(|c| {
            c.entries
                .into_iter()
                .flat_map(|(_, ops)| ops)
                .filter(|op| !KNOWN_OPERATIONS.contains(&op.as_str()))
                .collect()
        })
        .unwrap_or_default()
}

/// A validated capability in canonical order: resources ascending, each resource's
/// operations ascending and without duplicates. Ordering compares UTF-16 code units,
/// as JavaScript's sort does, so the canonical text equals ably-js's for every input.
#[derive(Clone, PartialEq, Eq)]
pub struct Capability {
    entries: Vec<(String, Vec<String>)>,
}

impl Capability {
    /// Parse and validate capability JSON such as `{"chat:*":["publish","subscribe"]}`.
    ///
    /// Rules (errors are 40003 (status 0) and name the offending resource or operation):
    /// - the text is a JSON object with at least one resource;
    /// - resource names are non-empty and appear once;
    /// - each value is a non-empty array of well-formed operation names
    ///   ([`is_well_formed_operation`]; known or not);
    /// - `*` as an operation means every operation and must stand alone in its list.
    pub fn parse(json: &str) -> Result<Self> {
        let entries = parse_entries(json)?
            .into_iter()
            .map(|(resource, ops)| {
                (
                    resource.into_owned(),
                    ops.into_iter().map(Cow::into_owned).collect(),
                )
            })
            .collect();
        Ok(Capability { entries })
    }

    /// The resources and their operations, in canonical order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.entries
            .iter()
            .map(|(r, ops)| (r.as_str(), ops.as_slice()))
    }

    /// The canonical compact JSON text.
    pub fn to_canonical_json(&self) -> String {
        write_canonical(&self.entries, 64)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_canonical_json())
    }
}

impl fmt::Debug for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Capability({})", self.to_canonical_json())
    }
}

/// Validate `json` and return its canonical text (a fixed point: canonicalising the
/// result gives the same text).
pub fn canonicalize(json: &str) -> Result<String> {
    // Borrows the names from `json` where they need no unescaping: this is on the signing path.
    parse_entries(json).map(|entries| write_canonical(&entries, json.len()))
}

type Entries<'a> = Vec<(Cow<'a, str>, Vec<Cow<'a, str>>)>;

/// Parse, validate and sort; see [`Capability::parse`] for the rules.
fn parse_entries(json: &str) -> Result<Entries<'_>> {
    let raw: RawCapability = serde_json::from_str(json)
        .map_err(|e| ErrorInfo::invalid_value(format!("capability is not valid: {e}")))?;
    let mut entries = raw.0;
    if entries.is_empty() {
        return Err(ErrorInfo::invalid_value(
            "capability must name at least one resource",
        ));
    }
    for (resource, ops) in &mut entries {
        validate_resource(resource, ops)?;
        ops.sort_by(|a, b| utf16_cmp(a, b));
        ops.dedup();
    }
    entries.sort_by(|a, b| utf16_cmp(&a.0, &b.0));
    if let Some(pair) = entries.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(ErrorInfo::invalid_value(format!(
            "capability names resource {:?} more than once",
            pair[0].0
        )));
    }
    Ok(entries)
}

fn write_canonical<S: AsRef<str>>(entries: &[(S, Vec<S>)], capacity: usize) -> String {
    let mut out = String::with_capacity(capacity);
    out.push('{');
    for (i, (resource, ops)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(&mut out, resource.as_ref());
        out.push_str(":[");
        for (j, op) in ops.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            push_json_string(&mut out, op.as_ref());
        }
        out.push(']');
    }
    out.push('}');
    out
}

fn validate_resource(resource: &str, ops: &[Cow<'_, str>]) -> Result<()> {
    if resource.is_empty() {
        return Err(ErrorInfo::invalid_value(
            "capability resource names must not be empty",
        ));
    }
    if ops.is_empty() {
        return Err(ErrorInfo::invalid_value(format!(
            "capability resource {resource:?} has an empty operation list"
        )));
    }
    if let Some(op) = ops.iter().find(|op| !is_well_formed_operation(op)) {
        return Err(ErrorInfo::invalid_value(format!(
            "capability resource {resource:?} names {op:?}, which is not an operation name (lowercase words joined by - or :, or *)"
        )));
    }
    if ops.len() > 1 && ops.iter().any(|op| op == "*") {
        return Err(ErrorInfo::invalid_value(format!(
            "capability resource {resource:?} combines \"*\" with other operations; \"*\" already grants every operation"
        )));
    }
    Ok(())
}

fn utf16_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

fn push_json_string(out: &mut String, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        // serde_json escapes exactly as JSON.stringify does for valid Unicode text.
        out.push_str(&serde_json::to_string(s).expect("a str always serialises"));
    }
}

/// A JSON string, borrowed from the input when it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(
                self,
                v: &'de str,
            ) -> std::result::Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> std::result::Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

/// A JSON object kept as a list of entries, so that duplicate resources can be reported
/// instead of silently keeping the last one.
struct RawCapability<'a>(Entries<'a>);

impl<'de> Deserialize<'de> for RawCapability<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct EntriesVisitor;
        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = RawCapability<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object mapping resources to arrays of operations")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(2));
                while let Some((resource, ops)) = map.next_entry::<Text<'de>, Vec<Text<'de>>>()? {
                    entries.push((resource.0, ops.into_iter().map(|op| op.0).collect()));
                }
                Ok(RawCapability(entries))
            }
        }
        deserializer
            .deserialize_map(EntriesVisitor)
            .map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_sorts_resources_and_operations() {
        assert_eq!(
            canonicalize(r#"{"channel2":["subscribe"],"channel1":["subscribe","publish"]}"#)
                .unwrap(),
            r#"{"channel1":["publish","subscribe"],"channel2":["subscribe"]}"#
        );
        assert_eq!(
            canonicalize(" { \"b\" : [ \"history\" , \"history\" ] , \"a\":[\"*\"] } ").unwrap(),
            r#"{"a":["*"],"b":["history"]}"#
        );
    }

    #[test]
    fn canonical_form_is_a_fixed_point() {
        let once =
            canonicalize(r#"{"z:*":["presence","publish"],"[*]*":["stats"],"é":["*"]}"#).unwrap();
        assert_eq!(canonicalize(&once).unwrap(), once);
    }

    #[test]
    fn orders_by_utf16_like_javascript() {
        // U+FF5E (one UTF-16 unit, 0xFF5E) sorts after U+1F600 (surrogates 0xD83D…) in JS,
        // although its code point is smaller.
        let text = canonicalize("{\"\u{FF5E}\":[\"*\"],\"\u{1F600}\":[\"*\"]}").unwrap();
        assert_eq!(text, "{\"\u{1F600}\":[\"*\"],\"\u{FF5E}\":[\"*\"]}");
    }

    #[test]
    fn escapes_like_json_stringify() {
        assert_eq!(
            canonicalize("{\"a\\\"b/\\u0001\":[\"*\"]}").unwrap(),
            "{\"a\\\"b/\\u0001\":[\"*\"]}"
        );
    }

    /// Operations Ably grants that an earlier fixed list refused, and one it may add later:
    /// all accepted by shape; only the made-up one is unknown to the library.
    #[test]
    fn accepts_every_well_formed_operation() {
        let json = r#"{"a":["message-subscribe","presence-subscribe","channel-metadata:publishers","list-channels","connection-metadata","quantum-teleport2"]}"#;
        let canonical = canonicalize(json).expect("well-formed operations");
        assert!(canonical.contains("\"channel-metadata:publishers\""));
        assert_eq!(unknown_operations(&canonical), ["quantum-teleport2"]);
        assert!(unknown_operations(r#"{"*":["*"]}"#).is_empty());
    }

    #[test]
    fn rejects_invalid_capabilities() {
        for bad in [
            "",
            "[]",
            "{}",
            "null",
            r#"{"a":[]}"#,
            r#"{"":["*"]}"#,
            r#"{"a":["publish","Jump"]}"#,
            r#"{"a":["publish",""]}"#,
            r#"{"a":["pub lish"]}"#,
            r#"{"a":["-publish"]}"#,
            r#"{"a":["publish-"]}"#,
            r#"{"a":["a--b"]}"#,
            r#"{"a":["*","publish"]}"#,
            r#"{"a":["*"],"a":["publish"]}"#,
            r#"{"a":"publish"}"#,
            r#"{"a":[1]}"#,
            r#"{"a":["*"]} trailing"#,
        ] {
            let err = canonicalize(bad).unwrap_err();
            assert_eq!(err.code, 40003, "{bad:?}");
        }
    }
}
