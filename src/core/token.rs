//! TokenParams (TK*), TokenRequest (TE*) and TokenDetails (TD*) with their JSON forms.
//!
//! Every `from_json` accepts a JSON string and every `from_value` an already parsed
//! object (TD7, TE6). Unknown fields are ignored; `ttl`, `timestamp`, `expires` and
//! `issued` may be numbers or strings of digits. Absent fields stay `None` and are left
//! out of the JSON that is written (RSA5, RSA6).

use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use super::error::{ErrorInfo, Result};

/// Parameters of a token (TK2): used by `createTokenRequest`, `requestToken` and `authorize`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenParams {
    /// Lifetime in milliseconds (TK2a). `None`: Ably's default of 60 minutes applies.
    #[serde(
        default,
        deserialize_with = "lenient_ttl",
        skip_serializing_if = "Option::is_none"
    )]
    pub ttl: Option<u64>,
    /// Capability JSON text (TK2b). `None`: the key's own capabilities apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capability: Option<String>,
    /// Client identity of the token (TK2c); `*` permits any identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Milliseconds since the epoch (TK2d). Used once, never stored as a default.
    #[serde(
        default,
        deserialize_with = "lenient_ms",
        skip_serializing_if = "Option::is_none"
    )]
    pub timestamp: Option<u64>,
    /// Replay-protection nonce (TK2e). Generated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

impl TokenParams {
    /// Parse TokenParams JSON text.
    pub fn from_json(json: &str) -> Result<Self> {
        parse_json(json, "TokenParams")
    }

    /// Build from an already parsed JSON object.
    pub fn from_value(value: &serde_json::Value) -> Result<Self> {
        from_value(value, "TokenParams")
    }

    /// The compact JSON text.
    pub fn to_json(&self) -> String {
        to_json(self)
    }

    /// The parameters that are set, as strings, for an authUrl query or form body
    /// (RSA8c1; UTS `rest/unit/TK/token-params-to-query-string-0`).
    pub fn to_query_params(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::with_capacity(5);
        if let Some(ttl) = self.ttl {
            out.push(("ttl", ttl.to_string()));
        }
        if let Some(capability) = &self.capability {
            out.push(("capability", capability.clone()));
        }
        if let Some(client_id) = &self.client_id {
            out.push(("clientId", client_id.clone()));
        }
        if let Some(timestamp) = self.timestamp {
            out.push(("timestamp", timestamp.to_string()));
        }
        if let Some(nonce) = &self.nonce {
            out.push(("nonce", nonce.clone()));
        }
        out
    }
}

impl fmt::Debug for TokenParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenParams")
            .field("ttl", &self.ttl)
            .field("capability", &self.capability)
            .field("client_id", &self.client_id)
            .field("timestamp", &self.timestamp)
            .field("nonce", &self.nonce)
            .finish()
    }
}

/// A TokenRequest (TE1): the body POSTed to `/keys/{keyName}/requestToken`.
/// A signed one carries the `mac`; its `Debug` output hides the mac.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRequest {
    /// `appId.keyId` of the key that signed it (TE2).
    pub key_name: String,
    /// Lifetime in milliseconds (TE4).
    #[serde(
        default,
        deserialize_with = "lenient_ttl",
        skip_serializing_if = "Option::is_none"
    )]
    pub ttl: Option<u64>,
    /// Canonical capability JSON text (TE3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capability: Option<String>,
    /// Client identity (TE2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Milliseconds since the epoch (TE5).
    #[serde(deserialize_with = "required_ms")]
    pub timestamp: u64,
    /// Unique nonce (TE2).
    pub nonce: String,
    /// Base64 HMAC-SHA256 signature (TE2); `None` for an unsigned request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

impl TokenRequest {
    /// `TokenRequest.fromJson` over JSON text (TE6). Errors: 40003 for invalid JSON, a
    /// missing field, or a keyName, nonce or mac holding U+0000 (no C string can carry it).
    pub fn from_json(json: &str) -> Result<Self> {
        parse_json::<Self>(json, "TokenRequest")?.checked()
    }

    /// `TokenRequest.fromJson` over a parsed object (TE6), checked as [`Self::from_json`].
    pub fn from_value(value: &serde_json::Value) -> Result<Self> {
        from_value::<Self>(value, "TokenRequest")?.checked()
    }

    fn checked(self) -> Result<Self> {
        let fields = [
            ("keyName", Some(&self.key_name)),
            ("nonce", Some(&self.nonce)),
            ("mac", self.mac.as_ref()),
        ];
        if let Some((name, _)) = fields
            .iter()
            .find(|(_, value)| value.is_some_and(|v| v.contains('\0')))
        {
            return Err(ErrorInfo::invalid_value(format!(
                "TokenRequest {name} must not contain U+0000"
            )));
        }
        Ok(self)
    }

    /// The compact JSON text; absent fields are left out, numbers stay numbers.
    pub fn to_json(&self) -> String {
        to_json(self)
    }
}

impl fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRequest")
            .field("key_name", &self.key_name)
            .field("ttl", &self.ttl)
            .field("capability", &self.capability)
            .field("client_id", &self.client_id)
            .field("timestamp", &self.timestamp)
            .field("nonce", &self.nonce)
            .field("mac", &self.mac.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A token and its metadata (TD1): the answer of `requestToken`. `Debug` hides the token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenDetails {
    /// The token string: an Ably token or a JWT (TD2).
    pub token: String,
    /// Expiry, milliseconds since the epoch (TD3).
    #[serde(
        default,
        deserialize_with = "lenient_ms",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires: Option<u64>,
    /// Issue time, milliseconds since the epoch (TD4).
    #[serde(
        default,
        deserialize_with = "lenient_ms",
        skip_serializing_if = "Option::is_none"
    )]
    pub issued: Option<u64>,
    /// Capability JSON text (TD5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capability: Option<String>,
    /// Client identity of the token (TD6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

impl TokenDetails {
    /// TokenDetails holding only a token string (RSA16b).
    pub fn from_token(token: impl Into<String>) -> Self {
        TokenDetails {
            token: token.into(),
            expires: None,
            issued: None,
            capability: None,
            client_id: None,
        }
    }

    /// `TokenDetails.fromJson` over JSON text (TD7). The token must be a non-empty string.
    pub fn from_json(json: &str) -> Result<Self> {
        let details: TokenDetails = parse_json(json, "TokenDetails")?;
        details.checked()
    }

    /// `TokenDetails.fromJson` over a parsed object (TD7).
    pub fn from_value(value: &serde_json::Value) -> Result<Self> {
        let details: TokenDetails = from_value(value, "TokenDetails")?;
        details.checked()
    }

    /// The compact JSON text.
    pub fn to_json(&self) -> String {
        to_json(self)
    }

    /// Whether the token has expired at `now_ms`, treating it as expired `margin_ms`
    /// early. A token without `expires` never expires locally.
    pub fn is_expired_at(&self, now_ms: u64, margin_ms: u64) -> bool {
        self.expires
            .is_some_and(|expires| now_ms.saturating_add(margin_ms) >= expires)
    }

    /// The expiry margin to apply to this token: `margin_ms`, but at most half the token's
    /// lifetime (`expires - issued`) when both are known. A token that lives less than the
    /// margin is so still used for half its life, instead of being renewed again at once,
    /// and again, without end.
    pub fn usable_margin(&self, margin_ms: u64) -> u64 {
        match (self.issued, self.expires) {
            (Some(issued), Some(expires)) => margin_ms.min(expires.saturating_sub(issued) / 2),
            _ => margin_ms,
        }
    }

    fn checked(self) -> Result<Self> {
        if self.token.is_empty() {
            return Err(ErrorInfo::invalid_value("TokenDetails token is empty"));
        }
        Ok(self)
    }
}

impl fmt::Debug for TokenDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenDetails")
            .field("token", &"<redacted>")
            .field("expires", &self.expires)
            .field("issued", &self.issued)
            .field("capability", &self.capability)
            .field("client_id", &self.client_id)
            .finish()
    }
}

/// The token is a credential: its bytes are overwritten before the memory is released.
impl Drop for TokenDetails {
    fn drop(&mut self) {
        self.token.zeroize();
    }
}

/// The mac proves possession of the key for this request: wiped before release.
impl Drop for TokenRequest {
    fn drop(&mut self) {
        self.mac.zeroize();
    }
}

/// Each token type is a JSON object: serde would also fill a struct from an array of its
/// fields in order, which no Ably peer sends, so anything but an object is refused.
fn parse_json<T: DeserializeOwned>(json: &str, what: &str) -> Result<T> {
    if !json.trim_start().starts_with('{') {
        return Err(not_an_object(what));
    }
    serde_json::from_str(json).map_err(|e| describe(e, what))
}

fn from_value<T: DeserializeOwned>(value: &serde_json::Value, what: &str) -> Result<T> {
    if !value.is_object() {
        return Err(not_an_object(what));
    }
    T::deserialize(value).map_err(|e| describe(e, what))
}

fn not_an_object(what: &str) -> ErrorInfo {
    ErrorInfo::invalid_value(format!("{what} JSON is invalid: not a JSON object"))
}

fn describe(e: serde_json::Error, what: &str) -> ErrorInfo {
    // serde_json messages name fields and positions, never values, so no secret leaks here.
    ErrorInfo::invalid_value(format!("{what} JSON is invalid: {e}"))
}

fn to_json<T: Serialize>(value: &T) -> String {
    // Sized for a typical TokenRequest, so the buffer is not regrown while writing.
    let mut out = Vec::with_capacity(256);
    serde_json::to_writer(&mut out, value).expect("token types always serialise");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// A millisecond count given as a JSON number (integral, non-negative) or a string of digits.
#[derive(Deserialize)]
#[serde(untagged)]
enum Millis {
    Int(u64),
    Float(f64),
    Text(String),
}

impl Millis {
    fn into_u64<E: de::Error>(self) -> std::result::Result<u64, E> {
        match self {
            Millis::Int(n) => Ok(n),
            Millis::Float(f) if f >= 0.0 && f.fract() == 0.0 && f < 1.8e19 => Ok(f as u64),
            Millis::Text(s) => s
                .trim()
                .parse::<u64>()
                .map_err(|_| E::custom("expected a non-negative whole number of milliseconds")),
            Millis::Float(_) => Err(E::custom(
                "expected a non-negative whole number of milliseconds",
            )),
        }
    }
}

fn lenient_ms<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<u64>, D::Error> {
    Option::<Millis>::deserialize(d)?
        .map(Millis::into_u64)
        .transpose()
}

/// As [`lenient_ms`], rejecting 0: a zero ttl is signed as empty by ably-js but sent as 0,
/// so it cannot round-trip.
fn lenient_ttl<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<u64>, D::Error> {
    match lenient_ms(d)? {
        Some(0) => Err(de::Error::custom(
            "ttl must be a positive number of milliseconds",
        )),
        ttl => Ok(ttl),
    }
}

fn required_ms<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<u64, D::Error> {
    Millis::deserialize(d)?.into_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_json_objects_are_token_types() {
        // serde alone would fill each struct from an array of its fields in order.
        let e = TokenParams::from_json("[1]").unwrap_err();
        assert!(e.message.contains("not a JSON object"), "{e}");
        assert!(TokenRequest::from_json(r#"["a.b",null,null,null,1,"n","m"]"#).is_err());
        assert!(TokenDetails::from_json(r#"["tok"]"#).is_err());
        assert!(TokenParams::from_json(" \n{}").is_ok());
    }

    #[test]
    fn numeric_strings_are_accepted_for_times() {
        let tr = TokenRequest::from_json(
            r#"{"keyName":"a.b","ttl":"60000","timestamp":"1234567890000","nonce":"n","mac":"m"}"#,
        )
        .unwrap();
        assert_eq!(tr.ttl, Some(60000));
        assert_eq!(tr.timestamp, 1_234_567_890_000);
        let td =
            TokenDetails::from_json(r#"{"token":"t","expires":1.5e12,"issued":null}"#).unwrap();
        assert_eq!(td.expires, Some(1_500_000_000_000));
        assert_eq!(td.issued, None);
    }

    #[test]
    fn bad_times_and_missing_fields_are_40003() {
        for bad in [
            r#"{"keyName":"a.b","timestamp":-1,"nonce":"n"}"#,
            r#"{"keyName":"a.b","timestamp":"12x","nonce":"n"}"#,
            r#"{"keyName":"a.b","timestamp":1.5,"nonce":"n"}"#,
            r#"{"keyName":"a.b","nonce":"n"}"#,
            r#"{"keyName":"a.b","timestamp":1,"nonce":"n","ttl":0}"#,
            r#"{"timestamp":1,"nonce":"n"}"#,
            r#"[1,2]"#,
            r#"{"keyName":"a.b","timestamp":1,"nonce":"n""#,
        ] {
            assert_eq!(
                TokenRequest::from_json(bad).unwrap_err().code,
                40003,
                "{bad}"
            );
        }
        assert_eq!(
            TokenDetails::from_json(r#"{"token":""}"#).unwrap_err().code,
            40003
        );
        assert_eq!(
            TokenDetails::from_json(r#"{"expires":1}"#)
                .unwrap_err()
                .code,
            40003
        );
    }

    #[test]
    fn debug_hides_token_and_mac() {
        let td = TokenDetails::from_token("sekrit-token");
        assert!(!format!("{td:?}").contains("sekrit"));
        let tr = TokenRequest::from_json(
            r#"{"keyName":"a.b","timestamp":1,"nonce":"n","mac":"sekrit-mac"}"#,
        )
        .unwrap();
        assert!(!format!("{tr:?}").contains("sekrit"));
    }

    #[test]
    fn usable_margin_is_at_most_half_the_lifetime() {
        let mut td = TokenDetails::from_token("t");
        assert_eq!(td.usable_margin(15_000), 15_000, "no lifetime known");
        td.issued = Some(1_000);
        td.expires = Some(11_000);
        assert_eq!(td.usable_margin(15_000), 5_000, "10 s token, 15 s margin");
        assert_eq!(td.usable_margin(2_000), 2_000);
        td.expires = Some(500);
        assert_eq!(td.usable_margin(15_000), 0, "expires before issued");
    }

    #[test]
    fn expiry_respects_margin_and_absent_expires() {
        let mut td = TokenDetails::from_token("t");
        assert!(!td.is_expired_at(u64::MAX, 0));
        td.expires = Some(10_000);
        assert!(!td.is_expired_at(9_999, 0));
        assert!(td.is_expired_at(10_000, 0));
        assert!(td.is_expired_at(9_000, 1_000));
        assert!(!td.is_expired_at(8_999, 1_000));
    }
}
