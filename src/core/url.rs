//! The one URL parser for every URL the library requests: the authUrl, each `Location` an
//! authUrl redirects to, and the REST hosts. Pure; strict where browsers
//! are lenient in ways that matter here, and as browsers where a server relies on them.
//!
//! - Schemes: `http` and `https` only (any case). `data:`, `javascript:`, `mailto:`,
//!   `about:`, `file:` and every other scheme are refused, never read as a relative path.
//! - Host: ASCII letters, digits, `-`, `.`, `_`, `~` (lowercased; an internationalised name
//!   needs its `xn--` form), or an IPv6 literal in brackets (no zone). Never empty.
//! - Port: 1 to 65535. `:0`, `:65536`, `:99999` and non-digits are refused (port 0 cannot
//!   be connected to; a port out of range must not become the scheme's default). An empty
//!   port (`host:`) and the scheme's own port mean the default, as in browsers.
//! - Relative references are resolved as browsers resolve them (RFC 3986 §5.2, with the
//!   WHATWG rules for http(s)): `//authority`, `/path`, `?query`, `path`, dot segments
//!   removed; a `\` before the query counts as `/`; `http:path` relative to an http URL is
//!   a relative path. A scheme is recognised only before the first `/`, `?` or `#`, so a
//!   relative reference with `://` in its query is a relative reference.
//! - Spaces, quotes, `<`, `>` and non-ASCII characters in the path and query are
//!   percent-encoded; control characters are refused. The fragment is dropped (it is never
//!   sent).
//!
//! A URL may carry secrets: a password in its userinfo, authParams echoed in its query. Its
//! `Display` form is the one sent on the wire; [`Url::redacted`] (also `Debug`) leaves out
//! the userinfo and the query, and is what logs and error messages quote. Error messages of
//! this module never quote a userinfo or a query either.

use std::fmt;
use std::net::Ipv6Addr;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

/// Characters percent-encoded in a path (WHATWG's path percent-encode set and the few more
/// the `http` crate refuses); `%` is kept, so encoded input stays as it is.
const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'^')
    .add(b'|')
    .add(b'\\');

/// Characters percent-encoded in a query.
const QUERY: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'^')
    .add(b'|')
    .add(b'\\');

/// Characters percent-encoded in a userinfo.
const USERINFO: &AsciiSet = &QUERY.add(b'/').add(b'?').add(b'@').add(b'[').add(b']');

/// The longest URL accepted (a hostile `Location` may be huge).
pub(crate) const MAX_URL_BYTES: usize = 16 * 1024;

/// The two schemes the library speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `http`
    Http,
    /// `https`
    Https,
}

impl Scheme {
    /// The scheme's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// The scheme's default port.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// Why a URL was refused. The message names the part at fault and never quotes a userinfo
/// or a query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlError(pub String);

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn refuse<T>(message: impl Into<String>) -> Result<T, UrlError> {
    Err(UrlError(message.into()))
}

/// An absolute http(s) URL, checked and normalised.
#[derive(Clone, PartialEq, Eq)]
pub struct Url {
    scheme: Scheme,
    /// `user[:password]` as given (percent-encoded), without the `@`.
    userinfo: Option<String>,
    /// Lowercased; an IPv6 literal keeps its brackets.
    host: String,
    /// `None` for the scheme's default.
    port: Option<u16>,
    /// Starts with `/`.
    path: String,
    /// Without the `?`.
    query: Option<String>,
}

impl fmt::Debug for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Url({})", self.redacted())
    }
}

/// The URL as sent on the wire (userinfo and query included: a secret, do not log it).
impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.scheme.as_str())?;
        f.write_str("://")?;
        if let Some(userinfo) = &self.userinfo {
            write!(f, "{userinfo}@")?;
        }
        f.write_str(&self.host_port())?;
        f.write_str(&self.path)?;
        if let Some(query) = &self.query {
            write!(f, "?{query}")?;
        }
        Ok(())
    }
}

/// `scheme` when `text` starts with one (RFC 3986: a letter, then letters, digits, `+`,
/// `-`, `.`, then `:`), before any `/`, `?` or `#`; with the rest after the `:`.
fn split_scheme(text: &str) -> Option<(&str, &str)> {
    let colon = text.find(':')?;
    let scheme = &text[..colon];
    let mut chars = scheme.chars();
    let first = chars.next()?;
    let valid = first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then(|| (scheme, &text[colon + 1..]))
}

/// `text` without a fragment, trimmed of surrounding spaces and controls; refused when it is
/// too long or holds a control character.
fn prepare(text: &str) -> Result<&str, UrlError> {
    let text = text.trim_matches(|c: char| c == ' ' || c.is_ascii_control());
    if text.len() > MAX_URL_BYTES {
        return refuse(format!(
            "the URL is longer than {MAX_URL_BYTES} bytes ({} bytes)",
            text.len()
        ));
    }
    if text.chars().any(|c| c.is_control()) {
        return refuse("the URL contains a control character");
    }
    Ok(text.split('#').next().unwrap_or(text))
}

/// `text` with every `\` before the query turned into `/`, as browsers read http(s) URLs.
fn backslashes_as_slashes(text: &str) -> String {
    match text.find('?') {
        Some(q) => format!("{}{}", text[..q].replace('\\', "/"), &text[q..]),
        None => text.replace('\\', "/"),
    }
}

fn parse_scheme(name: &str) -> Result<Scheme, UrlError> {
    if name.eq_ignore_ascii_case("http") {
        Ok(Scheme::Http)
    } else if name.eq_ignore_ascii_case("https") {
        Ok(Scheme::Https)
    } else {
        let mut shown: String = name.chars().take(16).collect();
        shown.make_ascii_lowercase();
        refuse(format!(
            "the scheme is {shown}:, and only http: and https: URLs are requested"
        ))
    }
}

fn parse_port(text: &str) -> Result<Option<u16>, UrlError> {
    if text.is_empty() {
        return Ok(None); // `host:` means the default, as in browsers
    }
    let shown: String = text.chars().take(12).collect();
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return refuse(format!("the port {shown:?} is not a number"));
    }
    let digits = text.trim_start_matches('0');
    match digits.parse::<u32>() {
        _ if digits.is_empty() => refuse("port 0 cannot be connected to (ports are 1 to 65535)"),
        Ok(port) if port <= 65_535 => Ok(Some(port as u16)),
        _ => refuse(format!(
            "the port {shown} is out of range (ports are 1 to 65535)"
        )),
    }
}

fn parse_host(text: &str) -> Result<String, UrlError> {
    if text.is_empty() {
        return refuse("the URL has no host");
    }
    if let Some(inner) = text.strip_prefix('[') {
        let Some(literal) = inner.strip_suffix(']') else {
            return refuse("the host's IPv6 literal has no closing ]");
        };
        return match literal.parse::<Ipv6Addr>() {
            Ok(address) => Ok(format!("[{address}]")),
            Err(_) => refuse("the host's IPv6 literal is not an IPv6 address"),
        };
    }
    if !text.is_ascii() {
        return refuse("the host name is not ASCII: use its xn-- (punycode) form");
    }
    if let Some(bad) = text
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')))
    {
        return refuse(format!(
            "the host name contains {bad:?}, which is not allowed in a host name"
        ));
    }
    Ok(text.to_ascii_lowercase())
}

/// RFC 3986 §5.2.4: the path without `.` and `..` segments (`%2e` counts as `.`).
fn remove_dot_segments(path: &str) -> String {
    let mut output: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    for (i, segment) in segments.iter().enumerate() {
        let lower = segment.to_ascii_lowercase();
        let is_dot = matches!(lower.as_str(), "." | "%2e");
        let is_dot_dot = matches!(lower.as_str(), ".." | ".%2e" | "%2e." | "%2e%2e");
        if is_dot_dot {
            output.pop();
        }
        if is_dot || is_dot_dot {
            if i == last {
                output.push(""); // `/a/..` is `/`, `/a/.` is `/a/`
            }
            continue;
        }
        output.push(segment);
    }
    format!("/{}", output.join("/"))
}

impl Url {
    /// Parse an absolute http(s) URL (`scheme://[userinfo@]host[:port][/path][?query]`).
    pub fn parse(text: &str) -> Result<Url, UrlError> {
        let text = prepare(text)?;
        let Some((scheme, rest)) = split_scheme(text) else {
            return refuse("not an absolute URL (it needs http:// or https://)");
        };
        let scheme = parse_scheme(scheme)?;
        let rest = backslashes_as_slashes(rest);
        let Some(rest) = rest.strip_prefix("//") else {
            return refuse(format!("the URL has no //host after {}:", scheme.as_str()));
        };
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let (userinfo, host_port) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        let (host, port) = if host_port.starts_with('[') {
            match host_port.find(']') {
                Some(close) => {
                    let after = &host_port[close + 1..];
                    let port = match after.strip_prefix(':') {
                        Some(port) => port,
                        None if after.is_empty() => "",
                        None => return refuse("unexpected characters after the IPv6 literal"),
                    };
                    (&host_port[..=close], port)
                }
                None => (host_port, ""),
            }
        } else {
            host_port.split_once(':').unwrap_or((host_port, ""))
        };
        let host = parse_host(host)?;
        let port = parse_port(port)?.filter(|p| *p != scheme.default_port());
        let (path, query) = match tail.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (tail, None),
        };
        let path = if path.is_empty() { "/" } else { path };
        Ok(Url {
            scheme,
            userinfo: userinfo.map(|u| utf8_percent_encode(u, USERINFO).to_string()),
            host,
            port,
            path: remove_dot_segments(&utf8_percent_encode(path, PATH).to_string()),
            query: query.map(|q| utf8_percent_encode(q, QUERY).to_string()),
        })
    }

    /// Resolve `reference` (a `Location`) against this URL, as a browser would (RFC 3986
    /// §5.2.2). Errors: a scheme other than http(s), and everything [`Url::parse`] refuses.
    pub fn join(&self, reference: &str) -> Result<Url, UrlError> {
        let reference = prepare(reference)?;
        let mut relative = reference;
        if let Some((scheme, rest)) = split_scheme(reference) {
            let scheme = parse_scheme(scheme)?;
            let rest_slashes = backslashes_as_slashes(rest);
            if scheme != self.scheme || rest_slashes.starts_with("//") {
                return Url::parse(reference);
            }
            relative = rest; // `http:path` from an http URL: a relative reference (WHATWG)
        }
        let relative = backslashes_as_slashes(relative);
        let base = format!("{}://{}", self.scheme.as_str(), self.authority());
        let target = if relative.starts_with("//") {
            format!("{}:{relative}", self.scheme.as_str())
        } else if relative.starts_with('/') {
            format!("{base}{relative}")
        } else if relative.is_empty() {
            format!("{base}{}{}", self.path, self.query_part())
        } else if relative.starts_with('?') {
            format!("{base}{}{relative}", self.path)
        } else {
            let directory = &self.path[..self.path.rfind('/').map_or(0, |i| i + 1)];
            format!("{base}{directory}{relative}")
        };
        Url::parse(&target)
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host, lowercased (an IPv6 literal in brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, explicit or the scheme's default.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(self.scheme.default_port())
    }

    /// The path, starting with `/`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query, without its `?`.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// Whether the URL has a userinfo (`user:password@`).
    pub fn has_userinfo(&self) -> bool {
        self.userinfo.is_some()
    }

    /// This URL with `query` as its query (`None`: none).
    pub fn with_query(&self, query: Option<String>) -> Url {
        Url {
            query,
            ..self.clone()
        }
    }

    fn query_part(&self) -> String {
        self.query
            .as_ref()
            .map_or_else(String::new, |q| format!("?{q}"))
    }

    fn host_port(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.clone(),
        }
    }

    fn authority(&self) -> String {
        match &self.userinfo {
            Some(userinfo) => format!("{userinfo}@{}", self.host_port()),
            None => self.host_port(),
        }
    }

    /// `scheme://host:port`, the port made explicit: equal for two URLs of the same origin.
    pub fn origin(&self) -> String {
        format!("{}://{}:{}", self.scheme.as_str(), self.host, self.port())
    }

    /// Whether `other` has the same scheme, host and port.
    pub fn same_origin(&self, other: &Url) -> bool {
        self.scheme == other.scheme && self.host == other.host && self.port() == other.port()
    }

    /// The URL for logs and error messages: without its userinfo and its query, which may
    /// hold secrets (`scheme://host[:port]/path`).
    pub fn redacted(&self) -> String {
        format!(
            "{}://{}{}",
            self.scheme.as_str(),
            self.host_port(),
            self.path
        )
    }

    /// `text` (a message from a transport, which may quote the URL it was given) with this
    /// URL's userinfo and query taken out.
    pub fn scrub(&self, text: &str) -> String {
        let mut text = text.replace(&self.to_string(), &self.redacted());
        if let Some(userinfo) = &self.userinfo {
            text = text.replace(&format!("{userinfo}@"), "");
            if let Some((_, password)) = userinfo.split_once(':')
                && !password.is_empty()
            {
                text = text.replace(password, "<redacted>");
            }
        }
        if let Some(query) = self.query.as_deref().filter(|q| !q.is_empty()) {
            text = text.replace(&format!("?{query}"), "");
            text = text.replace(query, "<redacted>");
        }
        text
    }
}

/// A reference (a `Location`) for an error message: the redacted URL for an http(s) or
/// relative reference, only the scheme for any other (a `data:` or `javascript:` URL is
/// content, not an address).
pub fn quote_reference(text: &str) -> String {
    let text = text.trim();
    match split_scheme(text) {
        Some((scheme, _)) if parse_scheme(scheme).is_err() => {
            let mut shown: String = scheme.chars().take(16).collect();
            shown.make_ascii_lowercase();
            format!("a {shown}: URL")
        }
        _ => redact(text),
    }
}

/// `text`, a URL or not, for a log line or a `Debug` form: the redacted URL when it parses,
/// else the text up to its query with any userinfo taken out.
pub fn redact(text: &str) -> String {
    if let Ok(url) = Url::parse(text) {
        return url.redacted();
    }
    let before_query = text.split(['?', '#']).next().unwrap_or(text);
    match (before_query.find("://"), before_query.rfind('@')) {
        (Some(start), Some(at)) if at > start => {
            format!("{}{}", &before_query[..start + 3], &before_query[at + 1..])
        }
        _ => before_query.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> String {
        Url::parse(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .to_string()
    }

    fn join(base: &str, reference: &str) -> String {
        Url::parse(base)
            .unwrap()
            .join(reference)
            .unwrap_or_else(|e| panic!("{reference}: {e}"))
            .to_string()
    }

    fn join_error(base: &str, reference: &str) -> String {
        Url::parse(base).unwrap().join(reference).unwrap_err().0
    }

    #[test]
    fn absolute_urls_are_normalised() {
        assert_eq!(
            parse("HTTPS://Auth.Example/t?x=1#frag"),
            "https://auth.example/t?x=1"
        );
        assert_eq!(parse("http://h"), "http://h/");
        assert_eq!(parse("http://h:80/a"), "http://h/a", "default port dropped");
        assert_eq!(
            parse("https://h:/a"),
            "https://h/a",
            "empty port: the default"
        );
        assert_eq!(parse("http://h:08080/a"), "http://h:8080/a");
        assert_eq!(parse("http://[::1]:8080/a"), "http://[::1]:8080/a");
        assert_eq!(parse("http://[0:0::1]/"), "http://[::1]/");
        assert_eq!(parse("http://u:p@h/a"), "http://u:p@h/a");
        assert_eq!(parse("http://u:p@ss@h/a"), "http://u:p%40ss@h/a");
        assert_eq!(
            parse("http://h/a b/\"c\"?q=a b"),
            "http://h/a%20b/%22c%22?q=a%20b"
        );
        assert_eq!(parse("http://h/é?é"), "http://h/%C3%A9?%C3%A9");
        assert_eq!(parse("http://h/a/./b/../c"), "http://h/a/c");
        assert_eq!(parse("http://h\\a\\b?c\\d"), "http://h/a/b?c%5Cd");
        assert_eq!(parse("  http://h/a  "), "http://h/a");
    }

    #[test]
    fn ports_must_be_1_to_65535() {
        for bad in [
            "http://h:99999/",
            "http://h:65536/",
            "http://h:0/",
            "http://h:00/",
        ] {
            let error = Url::parse(bad).unwrap_err().0;
            assert!(error.contains("port"), "{bad}: {error}");
        }
        assert!(Url::parse("http://h:4294967377/").is_err(), "u32 overflow");
        assert!(
            Url::parse("http://h:8o/")
                .unwrap_err()
                .0
                .contains("not a number")
        );
        assert!(Url::parse("http://[::1]:65536/").is_err());
        assert_eq!(Url::parse("http://h:65535/").unwrap().port(), 65535);
        assert_eq!(Url::parse("http://h:1/").unwrap().port(), 1);
        assert_eq!(Url::parse("https://h/").unwrap().port(), 443);
    }

    #[test]
    fn only_http_and_https_with_a_host() {
        for bad in [
            "ftp://h/",
            "file:///etc/passwd",
            "data:text/plain,x",
            "javascript:alert(1)",
            "mailto:a@b",
            "about:blank",
            "//h/",
            "/relative",
            "http:/h",
            "http://",
            "http:///a",
            "http://ex ample/",
            "http://exämple/",
            "http://h%41/",
            "http://[::1/",
            "http://[zz]/",
            "http://[::1]x/",
            "http://h/\u{0}x",
            "http://h/\tx",
            "http://h\n.example/",
        ] {
            assert!(Url::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(Url::parse(&format!("http://h/{}", "a".repeat(MAX_URL_BYTES))).is_err());
    }

    #[test]
    fn relative_references_resolve_as_browsers_do() {
        let base = "https://auth.example/v1/token?x=1";
        assert_eq!(
            join(base, "https://other.example/t"),
            "https://other.example/t"
        );
        assert_eq!(join(base, "//cdn.example/t"), "https://cdn.example/t");
        assert_eq!(
            join(base, "/v2/token?y=2"),
            "https://auth.example/v2/token?y=2"
        );
        assert_eq!(join(base, "token2"), "https://auth.example/v1/token2");
        assert_eq!(join(base, "?z=3"), "https://auth.example/v1/token?z=3");
        assert_eq!(join(base, ""), "https://auth.example/v1/token?x=1");
        assert_eq!(join(base, "#f"), "https://auth.example/v1/token?x=1");
        assert_eq!(join(base, "../up"), "https://auth.example/up");
        assert_eq!(join(base, "../../../up"), "https://auth.example/up");
        assert_eq!(join(base, "./a/./b/.."), "https://auth.example/v1/a/");
        assert_eq!(join(base, "https:same"), "https://auth.example/v1/same");
        assert_eq!(join(base, "HTTPS://A.example"), "https://a.example/");
        assert_eq!(join("http://h:8080", "a"), "http://h:8080/a");
        // A relative reference with :// in its query is relative (browsers follow it).
        assert_eq!(
            join(base, "/next?to=https://evil.example/x"),
            "https://auth.example/next?to=https://evil.example/x"
        );
        assert_eq!(
            join(base, "next?u=http://a"),
            "https://auth.example/v1/next?u=http://a"
        );
        // Backslashes before the query are slashes, as in browsers: another origin.
        assert_eq!(join(base, "/\\evil.example/x"), "https://evil.example/x");
        assert_eq!(join(base, "\\\\evil.example"), "https://evil.example/");
        // The base's userinfo goes with its authority, as RFC 3986 says.
        assert_eq!(join("http://u:p@h/a/b", "c"), "http://u:p@h/a/c");
    }

    #[test]
    fn other_schemes_are_refused_not_read_as_paths() {
        let base = "https://auth.example/v1/token";
        for (location, scheme) in [
            ("data:text/html,<script>", "data:"),
            ("javascript:alert(document.cookie)", "javascript:"),
            ("mailto:ops@example.com", "mailto:"),
            ("about:blank", "about:"),
            ("file:///etc/passwd", "file:"),
            ("FTP://h/", "ftp:"),
            ("Data:x", "data:"),
        ] {
            let error = join_error(base, location);
            assert!(error.contains(scheme), "{location}: {error}");
            assert!(
                !error.contains("script>") && !error.contains("cookie"),
                "{error}"
            );
        }
        assert!(join_error(base, "http://h:99999/?k=secret").contains("out of range"));
        assert!(!join_error(base, "http://h:99999/?k=secret").contains("secret"));
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let a = Url::parse("https://A.example/x").unwrap();
        assert!(a.same_origin(&Url::parse("https://a.example:443/y?q").unwrap()));
        assert!(!a.same_origin(&Url::parse("http://a.example/x").unwrap()));
        assert!(!a.same_origin(&Url::parse("https://a.example:444/x").unwrap()));
        assert_eq!(a.origin(), "https://a.example:443");
    }

    #[test]
    fn userinfo_and_query_never_reach_logs() {
        let url = Url::parse("https://user:hunter2@auth.example:8443/t?key=s3cret#f").unwrap();
        assert_eq!(url.redacted(), "https://auth.example:8443/t");
        assert_eq!(format!("{url:?}"), "Url(https://auth.example:8443/t)");
        let scrubbed = url.scrub(&format!(
            "could not reach {url}; also hunter2 and key=s3cret"
        ));
        assert!(
            !scrubbed.contains("hunter2") && !scrubbed.contains("s3cret"),
            "{scrubbed}"
        );
        assert!(
            scrubbed.contains("https://auth.example:8443/t"),
            "{scrubbed}"
        );
        assert_eq!(redact("https://u:p@h/a?b"), "https://h/a");
        assert_eq!(redact("weird://u:p@h:99999/a?b"), "weird://h:99999/a");
        assert_eq!(redact("no url here?x"), "no url here");
        assert_eq!(quote_reference("data:text/html,<b>x</b>"), "a data: URL");
        assert_eq!(quote_reference("/a?b=c"), "/a");
        assert_eq!(
            quote_reference("http://u:p@h:99999/a?b"),
            "http://h:99999/a"
        );
    }
}
