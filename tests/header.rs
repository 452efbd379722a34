//! The committed C header must equal a fresh cbindgen generation.
//! Regenerate with `ABLY_AUTH_BLESS=1 cargo test --test header`. The committed header is
//! cbindgen's output arranged into the sections of `src/ffi/header_sections.rs`.

use std::path::Path;

use ably_auth::ffi::header_sections::{HEADER_SECTIONS, HeaderSection};

#[test]
fn committed_header_matches_fresh_generation() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fresh = generate();
    let path = root.join("include/ably_auth.h");
    if std::env::var_os("ABLY_AUTH_BLESS").is_some() {
        std::fs::write(&path, &fresh).expect("write include/ably_auth.h");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "include/ably_auth.h is stale: regenerate it with `ABLY_AUTH_BLESS=1 cargo test --test header`"
    );
}

/// Every name the header defines carries the library's prefix: a bare `CANCELLED` or
/// `SHUT_DOWN` macro would break any C or C++ program with an enumerator of that name (such
/// as gRPC's `StatusCode::CANCELLED`) that includes the header.
#[test]
fn every_macro_of_the_header_has_the_library_prefix() {
    let header =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("include/ably_auth.h"))
            .expect("include/ably_auth.h");
    let bare: Vec<&str> = header
        .lines()
        .filter_map(|line| line.strip_prefix("#define "))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter(|name| !name.starts_with("ABLY_"))
        .collect();
    assert!(bare.is_empty(), "macros without the ABLY_ prefix: {bare:?}");
}

/// The header as committed: cbindgen's output rearranged into the sections of
/// `ably_auth::ffi::header_sections`, with a table of contents.
fn generate() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut raw = Vec::new();
    cbindgen::Builder::new()
        .with_crate(root)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut raw);
    let raw = String::from_utf8(raw).expect("UTF-8 header");
    arrange(&raw, HEADER_SECTIONS).unwrap_or_else(|problems| {
        panic!(
            "src/ffi/header_sections.rs does not place the header's items:\n  {}",
            problems.join("\n  ")
        )
    })
}

/// One declaration of cbindgen's output with its doc comment.
struct Item {
    name: String,
    text: String,
    /// A type whose definition must come before its first use (not a forward declaration).
    defines_type: bool,
}

const OPEN_EXTERN_C: &str = "#ifdef __cplusplus\nextern \"C\" {\n#endif // __cplusplus\n";
const CLOSE_EXTERN_C: &str = "#ifdef __cplusplus\n}  // extern \"C\"\n#endif  // __cplusplus\n";

/// The name an item declares.
fn item_name(code: &str) -> Option<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let first = code.lines().next()?;
    if let Some(rest) = first.strip_prefix("#define ") {
        return Some(ident(rest));
    }
    if first.starts_with("typedef struct") && first.ends_with('{') {
        let last = code.lines().last()?;
        return Some(ident(last.trim_start_matches('}').trim()));
    }
    if let Some(rest) = first.strip_prefix("typedef ") {
        if let Some(at) = rest.find("(*") {
            return Some(ident(&rest[at + 2..]));
        }
        return Some(ident(rest.trim_end_matches(';').rsplit(' ').next()?));
    }
    // A function: its name is the word before the parameter list, after the attribute
    // macros (ABLY_AUTH_MUST_CHECK, ABLY_AUTH_DEPRECATED(...)) on lines of their own.
    let declaration: String = code
        .lines()
        .skip_while(|line| line.starts_with("ABLY_AUTH_"))
        .collect::<Vec<_>>()
        .join("\n");
    let before = &declaration[..declaration.find('(')?];
    Some(ident(before.rsplit([' ', '*']).next()?))
}

/// Splits a region of cbindgen's output into items (blank-line separated chunks).
fn split_items(region: &str, items: &mut Vec<Item>) -> Result<(), String> {
    for chunk in region
        .split("\n\n")
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        let code: String = match chunk.find("*/") {
            Some(end) if chunk.starts_with("/*") => chunk[end + 2..].trim().to_string(),
            _ => chunk.to_string(),
        };
        let name = item_name(&code).ok_or_else(|| format!("cannot name the item:\n{chunk}"))?;
        let defines_type = code.starts_with("typedef") && !code.starts_with("typedef struct ably_")
            || code.starts_with("typedef struct") && code.lines().next().unwrap().ends_with('{');
        items.push(Item {
            name,
            text: without_standard_safety(chunk),
            defines_type,
        });
    }
    Ok(())
}

/// Whether a section entry (a name, or a prefix and suffix around one `*`) takes `name`.
fn matches(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((prefix, suffix)) => {
            name.len() >= prefix.len() + suffix.len()
                && name.starts_with(prefix)
                && name.ends_with(suffix)
        }
    }
}

fn arrange(raw: &str, sections: &[HeaderSection]) -> Result<String, Vec<String>> {
    let mut problems = Vec::new();
    // cbindgen's layout: preamble and includes, the ABLY_AUTH_MUST_CHECK block, constants and
    // types, then the functions inside extern "C", then the include guard's #endif.
    let must_check_end = raw
        .find("#define ABLY_AUTH_MUST_CHECK\n#endif\n#endif\n")
        .map(|at| at + "#define ABLY_AUTH_MUST_CHECK\n#endif\n#endif\n".len());
    let (Some(head_end), Some(open), Some(close)) = (
        must_check_end,
        raw.find(OPEN_EXTERN_C),
        raw.find(CLOSE_EXTERN_C),
    ) else {
        return Err(vec![
            "cbindgen's output does not have the expected layout".into(),
        ]);
    };
    let mut items = Vec::new();
    for region in [
        &raw[head_end..open],
        &raw[open + OPEN_EXTERN_C.len()..close],
    ] {
        if let Err(problem) = split_items(region, &mut items) {
            problems.push(problem);
        }
    }
    let tail = &raw[close + CLOSE_EXTERN_C.len()..];

    // Each item goes to the entry that names it exactly, else to the most specific pattern.
    let entries: Vec<(usize, usize, &str)> = sections
        .iter()
        .enumerate()
        .flat_map(|(s, section)| {
            section
                .items
                .iter()
                .enumerate()
                .map(move |(e, p)| (s, e, *p))
        })
        .collect();
    let mut placed: Vec<Vec<Vec<&Item>>> = sections
        .iter()
        .map(|s| vec![Vec::new(); s.items.len()])
        .collect();
    for item in &items {
        let best = entries
            .iter()
            .filter(|(_, _, p)| matches(p, &item.name))
            .max_by_key(|(_, _, p)| if p.contains('*') { p.len() } else { usize::MAX });
        match best {
            Some(&(s, e, _)) => placed[s][e].push(item),
            None => problems.push(format!("`{}` is in no section", item.name)),
        }
    }
    for (s, section) in sections.iter().enumerate() {
        for (e, pattern) in section.items.iter().enumerate() {
            if placed[s][e].is_empty() {
                problems.push(format!("`{pattern}` ({}) matches no item", section.title));
            }
        }
    }
    // A type definition must come before every item that uses it.
    let order: Vec<&Item> = placed.iter().flatten().flatten().copied().collect();
    for (at, item) in order.iter().enumerate().filter(|(_, i)| i.defines_type) {
        for earlier in &order[..at] {
            let code = match earlier.text.find("*/") {
                Some(end) if earlier.text.starts_with("/*") => &earlier.text[end + 2..],
                _ => &earlier.text,
            };
            let uses = code
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .any(|word| word == item.name);
            if uses {
                problems.push(format!(
                    "`{}` uses `{}`, which a later section defines",
                    earlier.name, item.name
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    let mut out = raw[..head_end].to_string();
    out.push_str("\n/*\n * Contents\n *\n");
    for (n, section) in sections.iter().enumerate() {
        out.push_str(&format!(" *   {:>2}. {}\n", n + 1, section.title));
    }
    out.push_str(" */\n\n");
    out.push_str(OPEN_EXTERN_C);
    for (n, section) in sections.iter().enumerate() {
        let rule = "=".repeat(92 - section.title.len().min(80));
        out.push_str(&format!("\n/* {}. {} {rule}\n *\n", n + 1, section.title));
        if section.intro.contains('\n') {
            for line in section.intro.lines() {
                out.push_str(format!(" * {line}").trim_end());
                out.push('\n');
            }
        } else {
            out.push_str(&wrap(section.intro, 89));
        }
        out.push_str(" */\n");
        for item in placed[n].iter().flatten() {
            out.push('\n');
            out.push_str(&item.text);
            out.push('\n');
        }
    }
    out.push('\n');
    out.push_str(CLOSE_EXTERN_C);
    out.push_str(tail);
    Ok(out)
}

/// A paragraph as comment lines of at most `width` characters.
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            out.push_str(&format!(" * {line}\n"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&format!(" * {line}\n"));
    }
    out
}

/// The pointer contracts that the header's conventions state once. A `# Safety` clause of an
/// item's Rust docs (which Rust requires on every `unsafe fn`) that says only one of these
/// is left out of the header; the rest stay, as "Beyond the conventions: ...". Backquoted
/// names are compared as `X`.
const STANDARD_SAFETY_CLAUSES: &[&str] = &[
    "`X` is NULL or a live handle",
    "`X` is NULL or a pointer returned by `X`",
    "`X` is NULL or a pointer passed to `X`",
    "`X` is NULL or a pointer passed to an authCallback",
    "`X` is NULL or NUL-terminated",
    "`X` and `X` are NULL or NUL-terminated",
    "strings are NULL or NUL-terminated",
    "`X` is NULL or writable",
    "`X` is NULL or points to writable memory for a pointer",
    "`X` is NULL or points to writable memory for an `X`",
    "the out-parameters are NULL or writable",
    "As for `X`",
    "`X` as for `X`",
    "`X` is NULL or an error returned by this library that has not been freed",
    "`X` is NULL or a string returned by this library that has not been freed",
    "`X` is NULL or a handle from an `X` function that has not been freed",
    "`X` is NULL or a handle from `X` that has not been freed",
    "`X` is NULL or from `X`",
    "`X` and `X` are NULL or from their `X` functions",
    "`X` and `X` are NULL or pointers returned by their `X` functions",
    "the functions follow the contracts of their types",
    "`X` and `X` follow their contracts",
];

/// `text` with every backquoted name replaced by `X`.
fn shape(text: &str) -> String {
    let mut out = String::new();
    for (n, part) in text.split('`').enumerate() {
        if n % 2 == 1 {
            out.push_str("`X`");
        } else {
            out.push_str(part);
        }
    }
    out
}

/// An item's text with its `# Safety` section reduced to what differs from the conventions.
fn without_standard_safety(chunk: &str) -> String {
    let lines: Vec<&str> = chunk.lines().collect();
    let Some(start) = lines.iter().position(|l| l.trim() == "* # Safety") else {
        return chunk.to_string();
    };
    let end = lines[start + 1..]
        .iter()
        .position(|l| l.trim() == "*/" || l.trim() == "*" || l.trim().starts_with("* #"))
        .map_or(lines.len(), |at| start + 1 + at);
    let text = lines[start + 1..end]
        .iter()
        .map(|l| l.trim().trim_start_matches('*').trim())
        .collect::<Vec<_>>()
        .join(" ");
    let kept: Vec<&str> = text
        .trim_end_matches('.')
        .split("; ")
        .flat_map(|clause| clause.split(", plus: "))
        .filter(|clause| !STANDARD_SAFETY_CLAUSES.contains(&shape(clause).as_str()))
        .collect();
    // Drop the heading, and the blank comment line before it.
    let keep_to = if start > 0 && lines[start - 1].trim() == "*" {
        start - 1
    } else {
        start
    };
    let mut out: Vec<String> = lines[..keep_to].iter().map(|l| l.to_string()).collect();
    if !kept.is_empty() {
        out.push(" *".into());
        let sentence = format!("Beyond the conventions: {}.", kept.join("; "));
        out.extend(wrap(&sentence, 89).lines().map(str::to_string));
    }
    out.extend(lines[end..].iter().map(|l| l.to_string()));
    out.join("\n")
}

/// The header's prose names error codes by their `ABLY_ERR_*` constants (only the table of
/// the errors section lists the numbers), names at most one spec item per declaration
/// (docs/spec-map.md maps functions to spec items), and carries no notes about the
/// project's own history.
#[test]
fn header_prose_uses_names_not_numbers() {
    let header =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("include/ably_auth.h"))
            .expect("include/ably_auth.h");
    let mut problems = Vec::new();
    let mut in_error_table = false;
    let mut in_comment = false;
    for (n, line) in header.lines().enumerate() {
        let t = line.trim_start();
        if t.starts_with("/*") && t.contains(". Errors and codes ") {
            in_error_table = true;
        }
        if t.starts_with("/*") {
            in_comment = true;
        }
        if in_comment && !in_error_table {
            for word in t.split(|c: char| !c.is_ascii_alphanumeric()) {
                // Ably's codes (4xxxx, 5xxxx, 8xxxx) and the library's own (1000xx).
                let is_code = word.chars().all(|c| c.is_ascii_digit())
                    && (word.len() == 5 && matches!(word.as_bytes()[0], b'4' | b'5' | b'8')
                        || word.len() == 6 && word.starts_with("1000"));
                if is_code {
                    problems.push(format!("line {}: raw error code {word}: {t}", n + 1));
                }
            }
            let lower = t.to_ascii_lowercase();
            if let Some(at) = lower.find("issue ") {
                if lower[at + 6..].starts_with(|c: char| c.is_ascii_digit()) {
                    problems.push(format!(
                        "line {}: a note about the project's history: {t}",
                        n + 1
                    ));
                }
            }
        }
        if t.ends_with("*/") {
            in_comment = false;
            in_error_table = false;
        }
    }
    // Spec IDs such as RSA10g or TO3l4, counted per declaration (blank-line separated).
    const FAMILIES: &[&str] = &[
        "RSA", "RSC", "RSL", "REC", "TK", "TD", "TE", "AO", "TI", "TO",
    ];
    for chunk in header.split("\n\n") {
        let ids = chunk
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|word| {
                FAMILIES.iter().any(|f| {
                    word.strip_prefix(f)
                        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
                })
            })
            .count();
        if ids > 1 {
            let first = chunk
                .lines()
                .find(|l| !l.trim_start().starts_with(['/', '*']));
            problems.push(format!("{ids} spec items in one declaration: {first:?}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
