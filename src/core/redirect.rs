//! Following an authUrl's redirects: which statuses redirect,
//! where to ([`super::url`], the one URL parser), with which method, and what must not
//! cross. Pure; `crate::auth::fetch` sends the requests.

use super::error::{Result, codes};
use super::material::callback_error;
use super::url::{Scheme, Url, quote_reference};

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

/// The URL a `Location` names, resolved against `base`, the URL that redirected, as a
/// browser resolves it ([`Url::join`]: only http and https, ports 1 to 65535, relative
/// references per RFC 3986 §5.2). Errors (40170/401): a Location [`Url::join`] refuses (a
/// `data:`, `javascript:`, `mailto:`, `about:` or `file:` URL, a port out of range ...),
/// and an https→http downgrade. The messages quote the Location without its userinfo or
/// query (which may echo authParams).
pub fn resolve(base: &Url, location: &str) -> Result<Url> {
    let next = base.join(location).map_err(|e| {
        let mut error = callback_error(format!(
            "the authUrl redirected to a Location that is refused ({}): {e}",
            super::material::truncate(&quote_reference(location), 96)
        ));
        error.status_code = 401;
        error
    })?;
    if base.scheme() == Scheme::Https && next.scheme() == Scheme::Http {
        let mut error = callback_error(format!(
            "the authUrl redirected from https to http ({}): refused",
            next.redacted()
        ));
        error.status_code = 401;
        error.code = codes::AUTH_CALLBACK_FAILED;
        return Err(error);
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(base: &str, location: &str) -> Result<String> {
        resolve(&Url::parse(base).unwrap(), location).map(|u| u.to_string())
    }

    #[test]
    fn locations_resolve_against_the_url_that_redirected() {
        let base = "https://auth.example/v1/token?x=1";
        assert_eq!(
            resolved(base, "https://other.example/t").unwrap(),
            "https://other.example/t"
        );
        assert_eq!(
            resolved(base, "/v2/token?y=2").unwrap(),
            "https://auth.example/v2/token?y=2"
        );
        assert_eq!(
            resolved(base, "/n?to=https://x.example/").unwrap(),
            "https://auth.example/n?to=https://x.example/"
        );
    }

    #[test]
    fn downgrades_and_other_schemes_are_refused() {
        let error = resolved("https://a.example/t", "http://a.example/t").unwrap_err();
        assert_eq!(
            (error.code, error.status_code),
            (codes::AUTH_CALLBACK_FAILED, 401)
        );
        assert!(error.message.contains("https to http"));
        let error = resolved("http://a.example/t", "ftp://a.example/t?k=secret").unwrap_err();
        assert_eq!(
            (error.code, error.status_code),
            (codes::AUTH_CALLBACK_FAILED, 401)
        );
        assert!(error.message.contains("ftp:"), "{error}");
        assert!(!error.message.contains("secret"), "{error}");
        let error = resolved("http://a.example/t", "javascript:alert('x')").unwrap_err();
        assert!(error.message.contains("javascript:"), "{error}");
        assert!(
            resolved("http://a.example/t", "https://b.example/t").is_ok(),
            "upgrade"
        );
    }

    #[test]
    fn methods_and_origins_follow_browsers() {
        assert!(becomes_get(303, false) && becomes_get(302, true) && becomes_get(301, true));
        assert!(!becomes_get(307, true) && !becomes_get(308, true) && !becomes_get(302, false));
        assert!(is_redirect(308) && !is_redirect(304) && !is_redirect(300));
    }
}
