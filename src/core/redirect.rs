//! Following an authUrl's redirects: which statuses redirect, where to, with
//! which method, and what must not cross. Pure; `crate::auth::fetch` sends the requests.

use super::error::{Result, codes};
use super::material::callback_error;

/// How many redirects an authUrl request follows at most (as browsers' fetch, fewer).
pub const MAX_REDIRECTS: usize = 5;

/// Whether `status` is a redirect with a `Location` to follow.
pub fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// Whether the method becomes GET (and the body is dropped) after `status`, as browsers
/// do: 303 always, 301 and 302 after a POST; 307 and 308 keep method and body.
pub fn becomes_get(status: u16, is_post: bool) -> bool {
    status == 303 || (is_post && matches!(status, 301 | 302))
}

/// `scheme://authority` of an absolute http(s) URL, lowercased; `None` otherwise.
fn origin(url: &str) -> Option<(String, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    (!authority.is_empty()).then(|| {
        (
            format!("{scheme}://{}", authority.to_ascii_lowercase()),
            &rest[end..],
        )
    })
}

/// Whether `a` and `b` have the same scheme and authority (headers of the caller's own
/// authUrl, which may carry its credentials, go only there).
pub fn same_origin(a: &str, b: &str) -> bool {
    matches!((origin(a), origin(b)), (Some((x, _)), Some((y, _))) if x == y)
}

/// The absolute URL a `Location` names, relative to `base` (RFC 3986 §5.2 for the forms
/// servers send: absolute, `//authority...`, `/path...`, `?query`, and a relative path).
/// Errors (40170): a Location that is not http(s), and an https→http downgrade.
pub fn resolve(base: &str, location: &str) -> Result<String> {
    let location = location.trim();
    let (base_origin, base_rest) = origin(base)
        .ok_or_else(|| callback_error("the authUrl redirected from a URL that is not http(s)"))?;
    let next = if location.contains("://") {
        location.to_owned()
    } else if let Some(authority) = location.strip_prefix("//") {
        let scheme = &base_origin[..base_origin.find(':').unwrap_or(0)];
        format!("{scheme}://{authority}")
    } else if location.starts_with('/') {
        format!("{base_origin}{location}")
    } else {
        let path = base_rest.split(['?', '#']).next().unwrap_or("");
        if location.starts_with('?') {
            format!("{base_origin}{path}{location}")
        } else {
            let directory = &path[..path.rfind('/').map_or(0, |i| i + 1)];
            let directory = if directory.is_empty() { "/" } else { directory };
            format!("{base_origin}{directory}{location}")
        }
    };
    if origin(&next).is_none() {
        return Err(callback_error(format!(
            "the authUrl redirected to {:?}, which is not an http(s) URL",
            super::material::truncate(&next, 64)
        )));
    }
    if base_origin.starts_with("https:") && next.to_ascii_lowercase().starts_with("http:") {
        let mut error = callback_error("the authUrl redirected from https to http: refused");
        error.status_code = 401;
        error.code = codes::AUTH_CALLBACK_FAILED;
        return Err(error);
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve_against_the_url_that_redirected() {
        let base = "https://auth.example/v1/token?x=1";
        assert_eq!(
            resolve(base, "https://other.example/t").unwrap(),
            "https://other.example/t"
        );
        assert_eq!(
            resolve(base, "//cdn.example/t").unwrap(),
            "https://cdn.example/t"
        );
        assert_eq!(
            resolve(base, "/v2/token?y=2").unwrap(),
            "https://auth.example/v2/token?y=2"
        );
        assert_eq!(
            resolve(base, "token2").unwrap(),
            "https://auth.example/v1/token2"
        );
        assert_eq!(
            resolve(base, "?z=3").unwrap(),
            "https://auth.example/v1/token?z=3"
        );
        assert_eq!(resolve("http://h:8080", "a").unwrap(), "http://h:8080/a");
    }

    #[test]
    fn downgrades_and_other_schemes_are_refused() {
        let error = resolve("https://a.example/t", "http://a.example/t").unwrap_err();
        assert_eq!(error.code, codes::AUTH_CALLBACK_FAILED);
        assert!(error.message.contains("https to http"));
        assert!(resolve("http://a.example/t", "ftp://a.example/t").is_err());
        assert!(
            resolve("http://a.example/t", "https://b.example/t").is_ok(),
            "upgrade"
        );
    }

    #[test]
    fn methods_and_origins_follow_browsers() {
        assert!(becomes_get(303, false) && becomes_get(302, true) && becomes_get(301, true));
        assert!(!becomes_get(307, true) && !becomes_get(308, true) && !becomes_get(302, false));
        assert!(is_redirect(308) && !is_redirect(304) && !is_redirect(300));
        assert!(same_origin("https://A.example/x", "https://a.example/y?q"));
        assert!(!same_origin("https://a.example/x", "http://a.example/x"));
        assert!(!same_origin(
            "https://a.example/x",
            "https://a.example:444/x"
        ));
    }
}
