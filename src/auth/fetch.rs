//! Getting a token from one means (RSA8): the authCallback, the authUrl, or the key with a
//! signed TokenRequest exchanged at Ably. No state here beyond what the caller passes.

use std::time::Duration;

use crate::core::error::{ErrorInfo, Result, codes};
use crate::core::material::{MAX_TOKEN_MATERIAL_BYTES, TokenMaterial, callback_error};
use crate::core::redirect;
use crate::core::token::{TokenDetails, TokenParams, TokenRequest};
use crate::http::rest::{RestClient, RestRequest, path_segment};
use crate::http::{HttpRequest, Method, RequestPurpose};

use super::callback;
use super::options::AuthOptions;

/// Merge `pairs` into `into`, a later pair replacing an earlier one with the same name.
fn merge(into: &mut Vec<(String, String)>, pairs: impl IntoIterator<Item = (String, String)>) {
    for (name, value) in pairs {
        match into.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => into.push((name, value)),
        }
    }
}

fn encode(pairs: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// The authUrl request (RSA8c): GET with the params in the query string, or POST with them
/// form-encoded. Precedence: TokenParams over authParams over the URL's own query (RSA8c2,
/// RSA8c1c). Only the authHeaders and `Accept` are sent: no Ably headers or credentials.
pub(crate) fn auth_url_request(
    options: &AuthOptions,
    url: &str,
    params: &TokenParams,
) -> Result<HttpRequest> {
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(ErrorInfo::invalid_value(
            "authUrl must be an absolute http:// or https:// URL",
        ));
    }
    let (without_fragment, _) = url.split_once('#').unwrap_or((url, ""));
    let (base, url_query) = without_fragment
        .split_once('?')
        .unwrap_or((without_fragment, ""));
    let mut merged: Vec<(String, String)> = Vec::new();
    let token_params = params
        .to_query_params()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v));
    let method = options.auth_method.unwrap_or(Method::Get);
    let mut headers: Vec<(String, String)> = options.auth_headers.clone();
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("accept"))
    {
        headers.push(("Accept".into(), "application/json, text/plain".into()));
    }
    let (url, body) = if method == Method::Get {
        merge(
            &mut merged,
            form_urlencoded::parse(url_query.as_bytes()).into_owned(),
        );
        merge(&mut merged, options.auth_params.iter().cloned());
        merge(&mut merged, token_params);
        let url = if merged.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", encode(&merged))
        };
        (url, None)
    } else {
        merge(&mut merged, options.auth_params.iter().cloned());
        merge(&mut merged, token_params);
        headers.push((
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
        (
            without_fragment.to_owned(),
            Some(encode(&merged).into_bytes()),
        )
    };
    Ok(HttpRequest {
        method,
        url,
        headers,
        body,
        max_response_bytes: MAX_TOKEN_MATERIAL_BYTES,
        purpose: RequestPurpose::AuthUrl,
        timeout: Duration::ZERO, // set by RestClient::send_to_auth_url
    })
}

/// Ask the authUrl for token material (RSA8c), following up to
/// [`redirect::MAX_REDIRECTS`] redirects as a browser would (303, and 301/302 after a POST,
/// become GET; https→http is refused; the authHeaders go only to the authUrl's own origin).
/// Any failure is 40170/401 with the underlying error as `cause` (RSA4e, DESIGN §4 item 9).
pub(crate) fn from_auth_url(
    rest: &RestClient,
    options: &AuthOptions,
    url: &str,
    params: &TokenParams,
) -> Result<TokenMaterial> {
    let mut request = auth_url_request(options, url, params)?;
    let mut redirects = 0;
    let response = loop {
        let response = rest.send_to_auth_url(&request).map_err(|e| {
            callback_error("the authUrl request failed").with_cause(e.to_error_info("the authUrl"))
        })?;
        if !redirect::is_redirect(response.status) {
            break response;
        }
        if redirects == redirect::MAX_REDIRECTS {
            return Err(callback_error(format!(
                "the authUrl redirected more than {} times",
                redirect::MAX_REDIRECTS
            )));
        }
        redirects += 1;
        let location = response.header("location").ok_or_else(|| {
            callback_error(format!(
                "the authUrl answered HTTP {} without a Location to follow",
                response.status
            ))
        })?;
        let next = redirect::resolve(&request.url, location)?;
        if redirect::becomes_get(response.status, request.method == Method::Post) {
            request.method = Method::Get;
            request.body = None;
            request
                .headers
                .retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
        }
        if !redirect::same_origin(&request.url, &next) {
            // The caller's authHeaders may be credentials for its own server only.
            request.headers.retain(|(name, _)| {
                !options
                    .auth_headers
                    .iter()
                    .any(|(own, _)| own.eq_ignore_ascii_case(name))
            });
        }
        request.url = next;
    };
    if !response.is_success() {
        let cause = response.error_info();
        let mut error = callback_error(format!("the authUrl answered HTTP {}", response.status))
            .with_cause(cause);
        if response.status == 403 {
            error.code = codes::FORBIDDEN;
            error.status_code = 403;
        }
        return Err(error);
    }
    TokenMaterial::from_auth_url_response(response.header("content-type"), &response.body)
}

/// Ask the authCallback (RSA8d) through its Auth's `gate`, waiting at most `timeout`.
pub(crate) fn from_callback(
    gate: &super::reentry::Gate,
    options: &AuthOptions,
    params: &TokenParams,
    timeout: Duration,
) -> Result<TokenMaterial> {
    let callback = options
        .auth_callback
        .as_ref()
        .ok_or_else(|| ErrorInfo::new(codes::INTERNAL_ERROR, 500, "no authCallback"))?;
    callback::invoke(gate, callback.as_ref(), params, timeout)
}

/// POST a TokenRequest to `/keys/{keyName}/requestToken` (RSA8a, checklist §2.5).
pub(crate) fn exchange(rest: &RestClient, request: &TokenRequest) -> Result<TokenDetails> {
    let path = format!("/keys/{}/requestToken", path_segment(&request.key_name));
    let response = rest.execute(RestRequest {
        method: Method::Post,
        path: &path,
        query: &[],
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("Accept".into(), "application/json".into()),
        ],
        body: Some(request.to_json().into_bytes()),
        max_response_bytes: MAX_TOKEN_MATERIAL_BYTES,
    })?;
    if !response.is_success() {
        return Err(response.error_info());
    }
    let text = std::str::from_utf8(&response.body).map_err(|_| {
        ErrorInfo::new(
            codes::INTERNAL_ERROR,
            500,
            "the requestToken response is not UTF-8",
        )
    })?;
    TokenDetails::from_json(text).map_err(|e| {
        ErrorInfo::new(
            codes::INTERNAL_ERROR,
            500,
            "the requestToken response is not a TokenDetails",
        )
        .with_cause(e)
    })
}
