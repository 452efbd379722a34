//! What an authCallback or authUrl hands back, and what Ably's REST endpoints answer:
//! classification and parsing of untrusted bodies, with no I/O (RSA4e, RSA4f, RSA8c, RSA8d,
//! RSC16, RSA17). Every function here is a fuzzing target.

use serde_json::Value;

use super::error::{ErrorInfo, Result, codes};
use super::token::{TokenDetails, TokenRequest};

/// The largest token, TokenDetails or TokenRequest accepted from an authUrl or authCallback
/// (RSA4f: 128 KiB).
pub const MAX_TOKEN_MATERIAL_BYTES: usize = 128 * 1024;

/// The means to a token that an authCallback or authUrl produced (RSA8d, RSA8c).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenMaterial {
    /// A token string: an Ably token or a JWT.
    Token(String),
    /// A complete TokenDetails.
    Details(TokenDetails),
    /// A TokenRequest to exchange at `/keys/{keyName}/requestToken`.
    Request(TokenRequest),
}

/// 40170/401 "token callback failed" (RSA4e/RSA4f), with the given detail.
pub fn callback_error(detail: impl std::fmt::Display) -> ErrorInfo {
    ErrorInfo::new(
        codes::AUTH_CALLBACK_FAILED,
        401,
        format!("auth: obtaining a token from the authCallback or authUrl failed: {detail}"),
    )
}

fn check_size(len: usize) -> Result<()> {
    if len > MAX_TOKEN_MATERIAL_BYTES {
        return Err(callback_error(format!(
            "the token material is {len} bytes, more than the {MAX_TOKEN_MATERIAL_BYTES}-byte limit (RSA4f)"
        )));
    }
    Ok(())
}

impl TokenMaterial {
    /// A token string (Ably token or JWT). Empty strings, text over 128 KiB and text that is
    /// clearly not a token (JSON, `null`, `undefined`, control characters) are 40170.
    pub fn token_string(token: &str) -> Result<Self> {
        check_size(token.len())?;
        let trimmed = token.trim();
        if trimmed.is_empty() {
            return Err(callback_error("the token string is empty"));
        }
        if trimmed == "null" || trimmed == "undefined" || trimmed.starts_with('{') {
            return Err(callback_error(
                "the token string is not a token (it looks like JSON or a null value)",
            ));
        }
        if trimmed.chars().any(char::is_control) || trimmed.contains(' ') {
            return Err(callback_error(
                "the token string contains spaces or control characters",
            ));
        }
        Ok(TokenMaterial::Token(trimmed.to_owned()))
    }

    /// JSON text: an object with `keyName` and `mac` is a TokenRequest, an object with
    /// `token` is a TokenDetails; anything else is 40170 (DESIGN §4 item 8).
    pub fn from_json(json: &str) -> Result<Self> {
        check_size(json.len())?;
        let value: Value = serde_json::from_str(json)
            .map_err(|e| callback_error(format!("the JSON is malformed: {e}")))?;
        Self::from_value(&value)
    }

    /// As [`TokenMaterial::from_json`], over a parsed value.
    pub fn from_value(value: &Value) -> Result<Self> {
        let Some(object) = value.as_object() else {
            return Err(callback_error(
                "the JSON is not an object (expected a TokenDetails or a TokenRequest)",
            ));
        };
        let invalid = |e: ErrorInfo| callback_error(&e.message).with_cause(e);
        if object.contains_key("keyName") && object.contains_key("mac") {
            let signed = object
                .get("mac")
                .and_then(Value::as_str)
                .is_some_and(|mac| !mac.is_empty());
            if !signed {
                return Err(callback_error(
                    "the TokenRequest is not signed: its mac is null, empty or not a string",
                ));
            }
            TokenRequest::from_value(value)
                .map(TokenMaterial::Request)
                .map_err(invalid)
        } else if object.contains_key("token") {
            TokenDetails::from_value(value)
                .map(TokenMaterial::Details)
                .map_err(invalid)
        } else {
            Err(callback_error(
                "the JSON object is neither a TokenDetails (no \"token\") nor a signed TokenRequest (no \"keyName\" and \"mac\")",
            ))
        }
    }

    /// An authUrl response body, read by its Content-Type (RSA8c): `text/plain` and
    /// `application/jwt` are a token string, `application/json` a TokenDetails or
    /// TokenRequest. Any other or missing type, or a body over 128 KiB, is 40170.
    pub fn from_auth_url_response(content_type: Option<&str>, body: &[u8]) -> Result<Self> {
        check_size(body.len())?;
        let content_type = content_type.unwrap_or("").to_ascii_lowercase();
        let text = || {
            std::str::from_utf8(body)
                .map_err(|_| callback_error("the authUrl response is not valid UTF-8"))
        };
        if content_type.contains("application/json") {
            Self::from_json(text()?)
        } else if content_type.contains("text/plain") || content_type.contains("application/jwt") {
            Self::token_string(text()?)
        } else if content_type.is_empty() {
            Err(callback_error("the authUrl response has no Content-Type"))
        } else {
            Err(callback_error(format!(
                "the authUrl response has an unsupported Content-Type {:?} (expected application/json, text/plain or application/jwt)",
                truncate(&content_type, 80)
            )))
        }
    }
}

/// The `/time` body (RSC16): `[ms]` or `{"time": ms}` (DESIGN §4 item 3). Anything else
/// is 50000/500.
pub fn parse_time(body: &[u8]) -> Result<u64> {
    let invalid = || {
        ErrorInfo::new(
            codes::INTERNAL_ERROR,
            500,
            "unexpected result type from GET /time: expected [ms] or {\"time\": ms}",
        )
    };
    let value: Value = serde_json::from_slice(body).map_err(|_| invalid())?;
    let number = match &value {
        Value::Array(items) => items.first(),
        Value::Object(object) => object.get("time"),
        _ => None,
    };
    number
        .and_then(|n| n.as_u64().or_else(|| n.as_f64().map(|f| f as u64)))
        .filter(|&ms| ms > 0)
        .ok_or_else(invalid)
}

/// The Ably error code for an HTTP status whose response carries no Ably error: the
/// generic code of that status where Ably has one (400 → 40000, 401 → 40100, 403 → 40300,
/// 404 → 40400, 405 → 40500, 429 → 42910 "rate limit exceeded", 500 → 50000), else the
/// generic code of its class (40000 for other 4xx, 50000 for other 5xx), and 50000
/// "internal error" for a status that is not an error at all (a 3xx redirect not followed,
/// an unexpected 1xx). Every result is a code of Ably's list: none is made up from the status.
pub fn code_for_status(status: u16) -> u32 {
    match status {
        400 | 401 | 403 | 404 | 405 => u32::from(status) * 100,
        429 => codes::RATE_LIMITED,
        402..=499 => codes::BAD_REQUEST,
        _ => codes::INTERNAL_ERROR,
    }
}

/// The ErrorInfo for an Ably response with status ≥ 400: the `{"error": {...}}` body
/// when there is one, else the `X-Ably-ErrorCode`/`X-Ably-ErrorMessage` headers, else
/// [`code_for_status`]. The status always comes from the response when the
/// body gives none.
pub fn error_from_response(
    status: u16,
    header: impl Fn(&str) -> Option<String>,
    body: &[u8],
) -> ErrorInfo {
    let from_body = serde_json::from_slice::<Value>(body)
        .ok()
        .filter(|v| v.get("error").is_some_and(Value::is_object))
        .and_then(|v| ErrorInfo::from_value(&v).ok());
    let mut error = from_body.unwrap_or_else(|| {
        let code = header("x-ably-errorcode")
            .and_then(|c| c.trim().parse::<u32>().ok())
            .unwrap_or_else(|| code_for_status(status));
        let message = header("x-ably-errormessage")
            .map(|m| truncate(&m, 500).to_owned())
            .unwrap_or_else(|| format!("the server answered HTTP {status}"));
        ErrorInfo::new(code, status, message)
    });
    if error.status_code == 0 {
        error.status_code = status;
    }
    if error.code == 0 {
        error.code = code_for_status(status);
    }
    error
}

/// One revocation target's outcome (TRS2 / TRF2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RevocationOutcome {
    /// The target was revoked (TRS2).
    Success {
        /// `type:value` as sent.
        target: String,
        /// Tokens issued before this time (ms) are revoked.
        issued_before: Option<u64>,
        /// When the revocation takes effect (ms).
        applies_at: Option<u64>,
    },
    /// The target failed (TRF2).
    Failure {
        /// `type:value` as sent.
        target: String,
        /// Why.
        error: ErrorInfo,
    },
}

/// The result of `revokeTokens` (RSA17, BatchResult).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RevocationResult {
    /// Targets revoked.
    pub success_count: usize,
    /// Targets that failed.
    pub failure_count: usize,
    /// One entry per target, in the server's order.
    pub results: Vec<RevocationOutcome>,
}

/// A `revokeTokens` response body: the BatchResult envelope, a plain array of per-target
/// results, or the legacy `{"batchResponse": [...]}` (DESIGN §4 item 4).
pub fn parse_revocation_result(body: &[u8]) -> Result<RevocationResult> {
    let invalid = |why: &str| {
        ErrorInfo::new(
            codes::INTERNAL_ERROR,
            500,
            format!("unexpected revokeTokens response: {why}"),
        )
    };
    let value: Value = serde_json::from_slice(body).map_err(|_| invalid("not JSON"))?;
    let items = match &value {
        Value::Array(items) => items,
        Value::Object(object) => object
            .get("results")
            .or_else(|| object.get("batchResponse"))
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("no results array"))?,
        _ => return Err(invalid("neither an object nor an array")),
    };
    let mut result = RevocationResult::default();
    for item in items {
        let target = item
            .get("target")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let outcome = match item.get("error") {
            Some(error) if !error.is_null() => RevocationOutcome::Failure {
                target,
                error: ErrorInfo::from_value(error)
                    .map_err(|_| invalid("a per-target error is not an ErrorInfo"))?,
            },
            _ => RevocationOutcome::Success {
                target,
                issued_before: item.get("issuedBefore").and_then(Value::as_u64),
                applies_at: item.get("appliesAt").and_then(Value::as_u64),
            },
        };
        match outcome {
            RevocationOutcome::Success { .. } => result.success_count += 1,
            RevocationOutcome::Failure { .. } => result.failure_count += 1,
        }
        result.results.push(outcome);
    }
    Ok(result)
}

/// At most `max` bytes of `text`, cut at a character boundary.
pub fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_classified_by_its_keys() {
        let details = TokenMaterial::from_json(r#"{"token":"t1","expires":5}"#).unwrap();
        assert!(matches!(details, TokenMaterial::Details(d) if d.token == "t1"));
        let request = TokenMaterial::from_json(
            r#"{"keyName":"a.b","timestamp":1,"nonce":"nonce-0123456789abcdef","mac":"m"}"#,
        )
        .unwrap();
        assert!(matches!(request, TokenMaterial::Request(r) if r.key_name == "a.b"));
        for bad in [
            r#"{"keyName":"a.b","timestamp":1,"nonce":"nonce-0123456789abcdef","mac":null}"#,
            r#"{"foo":1}"#,
            "[1]",
            "\"tok\"",
            "{",
            r#"{"keyName":"a.b"}"#,
        ] {
            assert_eq!(
                TokenMaterial::from_json(bad).unwrap_err().code,
                40170,
                "{bad}"
            );
        }
    }

    #[test]
    fn auth_url_content_types() {
        let jwt = TokenMaterial::from_auth_url_response(Some("application/jwt"), b"a.b.c").unwrap();
        assert_eq!(jwt, TokenMaterial::Token("a.b.c".into()));
        let text =
            TokenMaterial::from_auth_url_response(Some("text/plain; charset=utf-8"), b"tok\n")
                .unwrap();
        assert_eq!(text, TokenMaterial::Token("tok".into()));
        for (ct, body) in [
            (Some("text/html"), &b"<html>"[..]),
            (None, b"tok"),
            (Some("application/json"), b"{\"token\":\"t\""),
            (Some("text/plain"), b""),
        ] {
            let err = TokenMaterial::from_auth_url_response(ct, body).unwrap_err();
            assert_eq!((err.code, err.status_code), (40170, 401));
            assert!(err.message.contains("auth"));
        }
        let big = vec![b'a'; MAX_TOKEN_MATERIAL_BYTES + 1];
        let err = TokenMaterial::from_auth_url_response(Some("text/plain"), &big).unwrap_err();
        assert!(err.message.contains("limit"));
    }

    #[test]
    fn time_bodies() {
        assert_eq!(parse_time(b"[1704067200000]").unwrap(), 1_704_067_200_000);
        assert_eq!(
            parse_time(br#"{"time":1704067200000}"#).unwrap(),
            1_704_067_200_000
        );
        for bad in [&b"[]"[..], b"{}", b"\"x\"", b"[\"1\"]", b"nope", b"[0]"] {
            assert_eq!(parse_time(bad).unwrap_err().code, 50000);
        }
    }

    #[test]
    fn error_bodies_and_headers() {
        let e = error_from_response(
            401,
            |_| None,
            br#"{"error":{"code":40142,"statusCode":401,"message":"Token expired"}}"#,
        );
        assert_eq!(
            (e.code, e.status_code, e.message.as_str()),
            (40142, 401, "Token expired")
        );
        let e = error_from_response(
            503,
            |h| (h == "x-ably-errorcode").then(|| "50003".to_owned()),
            b"<html>",
        );
        assert_eq!((e.code, e.status_code), (50003, 503));
        let e = error_from_response(404, |_| None, b"");
        assert_eq!((e.code, e.status_code), (40400, 404));
        // No code is made up from the status (30200, 50300): each is one Ably lists.
        for (status, code) in [
            (302, 50000),
            (400, 40000),
            (401, 40100),
            (409, 40000),
            (429, 42910),
            (503, 50000),
        ] {
            let e = error_from_response(status, |_| None, b"<html>");
            assert_eq!((e.code, e.status_code), (code, status), "HTTP {status}");
        }
    }

    #[test]
    fn revocation_shapes() {
        let envelope = br#"{"successCount":1,"failureCount":1,"results":[
            {"target":"clientId:a","issuedBefore":10,"appliesAt":20},
            {"target":"bad:x","error":{"code":40000,"statusCode":400,"message":"bad"}}]}"#;
        let r = parse_revocation_result(envelope).unwrap();
        assert_eq!((r.success_count, r.failure_count), (1, 1));
        let plain = br#"[{"target":"clientId:a","issuedBefore":10,"appliesAt":20},
            {"target":"clientId:b","issuedBefore":10,"appliesAt":20}]"#;
        assert_eq!(parse_revocation_result(plain).unwrap().success_count, 2);
        assert!(parse_revocation_result(b"{}").is_err());
    }
}
