//! clientId rules (RSA7, RSA12, RSA15; checklist §2.9).

use super::error::{ErrorInfo, Result, codes};

/// The wildcard clientId: a token that may assume any identity (TK2c, RSA7b4).
pub const WILDCARD: &str = "*";

fn invalid(message: String) -> ErrorInfo {
    ErrorInfo::new(codes::INVALID_CLIENT_ID, 400, message)
}

/// Rules every clientId shares: not empty, and no NUL or line feed (a line feed would make
/// the signed text of a TokenRequest ambiguous).
fn validate_common(client_id: &str, origin: &str) -> Result<()> {
    if client_id.is_empty() {
        return Err(invalid(format!("{origin} clientId must not be empty")));
    }
    if client_id.contains(['\n', '\0']) {
        return Err(invalid(format!(
            "{origin} clientId must not contain a line feed or NUL character"
        )));
    }
    Ok(())
}

/// Validate the clientId of the library's own options (RSA7c): `*` is reserved there.
/// Errors are 40012/400.
pub fn validate_options_client_id(client_id: &str) -> Result<()> {
    validate_common(client_id, "the options'")?;
    if client_id == WILDCARD {
        return Err(invalid(
            "the options' clientId must not be \"*\"; use \"*\" in TokenParams to issue a wildcard token"
                .into(),
        ));
    }
    Ok(())
}

/// Validate the clientId of TokenParams: `*` is allowed there (TK2c).
pub fn validate_token_client_id(client_id: &str) -> Result<()> {
    validate_common(client_id, "TokenParams")
}

/// Check that a token's clientId is compatible with the options' clientId (RSA15a, RSA15b).
/// Errors are 40102/401 and name both identities (clientIds are not secrets).
pub fn check_compatible(
    options_client_id: Option<&str>,
    token_client_id: Option<&str>,
) -> Result<()> {
    match (options_client_id, token_client_id) {
        (Some(ours), Some(theirs)) if theirs != WILDCARD && ours != theirs => Err(ErrorInfo::new(
            codes::INCOMPATIBLE_CREDENTIALS,
            401,
            format!("clientId mismatch: the options say {ours:?} but the token is for {theirs:?}"),
        )),
        _ => Ok(()),
    }
}

/// `Auth#clientId` (RSA7b, RSA12): the options' clientId when set, otherwise the clientId
/// of the current token (which may be `*`), otherwise none.
pub fn effective_client_id<'a>(
    options_client_id: Option<&'a str>,
    token_client_id: Option<&'a str>,
) -> Option<&'a str> {
    options_client_id.or(token_client_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_client_id_rules() {
        assert!(validate_options_client_id("bob").is_ok());
        for bad in ["", "*", "a\nb", "a\0b"] {
            let e = validate_options_client_id(bad).unwrap_err();
            assert_eq!((e.code, e.status_code), (40012, 400), "{bad:?}");
        }
    }

    #[test]
    fn token_client_id_allows_wildcard() {
        assert!(validate_token_client_id("*").is_ok());
        assert_eq!(validate_token_client_id("").unwrap_err().code, 40012);
    }
}
