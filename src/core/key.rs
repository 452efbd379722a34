//! Ably API keys (`appId.keyId:keySecret`) and the Basic `Authorization` header (RSA11).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::error::{ErrorInfo, Result, codes};

/// A parsed API key.
///
/// The secret is never printed (`Debug` and `Display` show only the key name) and is
/// zeroized when the key is dropped, together with the keyed HMAC state derived from it.
#[derive(Clone)]
pub struct ApiKey {
    name: String,
    /// The whole key string `name:secret`, kept for the Basic header.
    full: Zeroizing<String>,
    /// HMAC-SHA256 state keyed with the secret: the inner and outer pads are hashed once
    /// here rather than on every signature. `hmac`'s `zeroize` feature wipes it on drop.
    keyed: Hmac<Sha256>,
}

impl ApiKey {
    /// Parse `appId.keyId:keySecret` (TO3j1, checklist §2.2).
    ///
    /// The key name is everything before the first `:` and must have the form
    /// `appId.keyId`; the secret is everything after it and must not be empty.
    /// Errors are 40101/401 and never quote the key.
    pub fn parse(key: &str) -> Result<Self> {
        let invalid = |why: &str| {
            ErrorInfo::new(
                codes::INVALID_CREDENTIALS,
                401,
                format!("invalid API key: {why}; expected the form appId.keyId:keySecret"),
            )
        };
        let (name, secret) = key.split_once(':').ok_or_else(|| invalid("no ':' found"))?;
        let (app, key_id) = name
            .split_once('.')
            .ok_or_else(|| invalid("the key name has no '.'"))?;
        if app.is_empty() || key_id.is_empty() {
            return Err(invalid("the app ID or key ID is empty"));
        }
        if secret.is_empty() {
            return Err(invalid("the secret is empty"));
        }
        if key.chars().any(char::is_whitespace) {
            return Err(invalid("it contains white space"));
        }
        let keyed = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .map_err(|_| invalid("the secret cannot key HMAC-SHA256"))?;
        Ok(ApiKey {
            name: name.to_owned(),
            full: Zeroizing::new(key.to_owned()),
            keyed,
        })
    }

    /// The key name `appId.keyId` (the username part; public).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The secret (the part after the first `:`). Handle with care.
    pub fn secret(&self) -> &str {
        &self.full[self.name.len() + 1..]
    }

    /// The `Authorization` header value for Basic auth (RSA11): `Basic ` followed by the
    /// standard, padded Base64 of the whole key. The returned string holds the secret.
    pub fn basic_authorization(&self) -> Zeroizing<String> {
        let mut header = Zeroizing::new(String::with_capacity(6 + self.full.len().div_ceil(3) * 4));
        header.push_str("Basic ");
        STANDARD.encode_string(self.full.as_bytes(), &mut header);
        header
    }

    /// HMAC-SHA256 of `data` keyed with the secret, as standard padded Base64 (44 characters).
    pub fn sign(&self, data: &[u8]) -> String {
        let mut mac = self.keyed.clone();
        mac.update(data);
        STANDARD.encode(mac.finalize().into_bytes())
    }

    /// HMAC-SHA256 of `data` keyed with the secret, as raw bytes.
    pub fn sign_raw(&self, data: &[u8]) -> [u8; 32] {
        let mut mac = self.keyed.clone();
        mac.update(data);
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("name", &self.name)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:<redacted>", self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_name_and_secret_at_first_colon() {
        let key = ApiKey::parse("appId.keyId:sec:ret").unwrap();
        assert_eq!(key.name(), "appId.keyId");
        assert_eq!(key.secret(), "sec:ret");
    }

    #[test]
    fn rejects_malformed_keys_without_echoing_them() {
        for bad in [
            "",
            "no-colon",
            "noDot:hunter2",
            ".myKey:hunter2",
            "myApp.:hunter2",
            "myApp.myKey:",
            "my App.myKey:hunter2",
        ] {
            let err = ApiKey::parse(bad).unwrap_err();
            assert_eq!(err.code, codes::INVALID_CREDENTIALS, "{bad:?}");
            assert_eq!(err.status_code, 401);
            if bad.len() > 3 {
                assert!(
                    !err.message.contains(bad),
                    "{bad:?} echoed: {}",
                    err.message
                );
            }
        }
    }

    // RSA11 (checklist §2.3 example) and UTS rest/unit/RSA2/basic-auth-header-format-0's value.
    #[test]
    fn basic_header_is_standard_base64_of_whole_key() {
        let key = ApiKey::parse("appId.keyId:keySecret").unwrap();
        assert_eq!(
            key.basic_authorization().as_str(),
            "Basic YXBwSWQua2V5SWQ6a2V5U2VjcmV0"
        );
        let key = ApiKey::parse("app123.key456:secretXYZ").unwrap();
        assert_eq!(
            key.basic_authorization().as_str(),
            format!("Basic {}", STANDARD.encode("app123.key456:secretXYZ"))
        );
    }

    #[test]
    fn debug_and_display_redact_the_secret() {
        let key = ApiKey::parse("appId.keyId:topSecretValue").unwrap();
        let shown = format!("{key:?} {key}");
        assert!(!shown.contains("topSecretValue"), "{shown}");
        assert!(shown.contains("appId.keyId"));
    }
}
