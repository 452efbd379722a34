//! JWS compact serialisation: decoding (strict unpadded base64url, JSON objects) and HS256
//! signing. What the claims mean is checked in `credentials.rs`.

use serde_json::{Map, Value};

use crate::util;

/// A JWT split into its parts; nothing verified yet.
pub struct Decoded<'a> {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    /// `header.payload`, the text the signature covers.
    pub signing_input: &'a str,
    pub signature: Vec<u8>,
}

fn object(segment: &str) -> Option<Map<String, Value>> {
    match serde_json::from_slice(&util::b64url_decode(segment)?).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// Splits and decodes a JWT; the error names the malformed part.
pub fn decode(jwt: &str) -> Result<Decoded<'_>, &'static str> {
    let mut parts = jwt.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("token is not a JWT (three dot-separated parts)");
    };
    Ok(Decoded {
        header: object(h).ok_or("header is not base64url JSON")?,
        claims: object(c).ok_or("payload is not base64url JSON")?,
        signing_input: &jwt[..h.len() + 1 + c.len()],
        signature: util::b64url_decode(s).ok_or("signature is not base64url")?,
    })
}

/// `header.payload.signature`, HS256 with `secret`.
pub fn sign(secret: &str, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        util::b64url(header.to_string().as_bytes()),
        util::b64url(claims.to_string().as_bytes())
    );
    let sig = util::hmac_sha256(secret.as_bytes(), input.as_bytes());
    format!("{input}.{}", util::b64url(&sig))
}

/// A NumericDate claim (seconds, fractions allowed) in ms, as golang-jwt reads it at millisecond
/// precision: `Ok(None)` when absent or 0, `Err` when not a number.
pub fn numeric_date_ms(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, ()> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => match v.as_f64() {
            Some(0.0) => Ok(None),
            Some(secs) => Ok(Some((secs * 1000.0).floor() as i64)),
            None => Err(()),
        },
    }
}
