//! Getting a token from one means (RSA8): the authCallback, the authUrl, or the key with a
//! signed TokenRequest exchanged at Ably. No state here beyond what the caller passes.

use std::time::{Duration, Instant};

use crate::core::error::{ErrorInfo, Result, codes};
use crate::core::material::{MAX_TOKEN_MATERIAL_BYTES, TokenMaterial, callback_error};
use crate::core::redirect;
use crate::core::token::{TokenDetails, TokenParams, TokenRequest};
use crate::core::url::Url;
use crate::http::rest::{RestClient, RestRequest, path_segment};
use crate::http::{HttpRequest, Method, RequestPurpose, TransportErrorKind};

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

/// The authUrl, checked by the one URL parser ([`Url`]). Errors: 40003 saying what is
/// wrong (never quoting a userinfo or query).
pub(crate) fn parse_auth_url(url: &str) -> Result<Url> {
    Url::parse(url).map_err(|e| {
        ErrorInfo::invalid_value(format!(
            "authUrl must be an absolute http:// or https:// URL: {e}"
        ))
    })
}

/// The authUrl request (RSA8c): GET with the params in the query string, or POST with them
/// form-encoded. Precedence: TokenParams over authParams over the URL's own query (RSA8c2,
/// RSA8c1c). Only the authHeaders and `Accept` are sent: no Ably headers or credentials.
/// Returns the request and the URL it goes to.
pub(crate) fn auth_url_request(
    options: &AuthOptions,
    url: &str,
    params: &TokenParams,
) -> Result<(HttpRequest, Url)> {
    let url = parse_auth_url(url)?;
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
            form_urlencoded::parse(url.query().unwrap_or("").as_bytes()).into_owned(),
        );
        merge(&mut merged, options.auth_params.iter().cloned());
        merge(&mut merged, token_params);
        let query = (!merged.is_empty()).then(|| encode(&merged));
        (url.with_query(query), None)
    } else {
        merge(&mut merged, options.auth_params.iter().cloned());
        merge(&mut merged, token_params);
        headers.push((
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
        (url, Some(encode(&merged).into_bytes()))
    };
    let request = HttpRequest {
        method,
        url: url.to_string(),
        headers,
        body,
        max_response_bytes: MAX_TOKEN_MATERIAL_BYTES,
        purpose: RequestPurpose::AuthUrl,
        timeout: Duration::ZERO, // set by RestClient::send_to_auth_url
    };
    Ok((request, url))
}

/// The error of an authUrl chain that ran out of time before its next hop.
fn chain_timeout(budget: Duration, hops: usize) -> ErrorInfo {
    callback_error(format!(
        "the authUrl did not answer within the request timeout ({} ms) for the whole chain \
         ({hops} redirect(s) followed)",
        budget.as_millis()
    ))
    .with_cause(ErrorInfo::new(
        codes::TIMEOUT,
        0,
        "the request timeout covers an authUrl request and all its redirects",
    ))
}

/// Ask the authUrl for token material (RSA8c), following up to
/// [`redirect::MAX_REDIRECTS`] redirects as a browser would (303, and 301/302 after a POST,
/// become GET; https→http is refused; the authHeaders go only to the authUrl's own origin;
/// a 307/308 keeps the method and the body, authParams included, also to another origin).
/// The whole chain has one deadline, the request timeout: each hop gets what is left of it.
/// Any failure is 40170/401 with the underlying error as `cause` (RSA4e, DESIGN §4 item 9);
/// messages quote URLs without userinfo or query.
pub(crate) fn from_auth_url(
    rest: &RestClient,
    options: &AuthOptions,
    url: &str,
    params: &TokenParams,
) -> Result<TokenMaterial> {
    let (mut request, mut current) = auth_url_request(options, url, params)?;
    let budget = rest.request_timeout();
    let deadline = Instant::now() + budget;
    let mut redirects = 0;
    let response = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(chain_timeout(budget, redirects));
        }
        let response = rest.send_to_auth_url(&request, left).map_err(|e| {
            let mut cause = e.to_error_info("the authUrl");
            cause.message = current.scrub(&cause.message);
            let what = if e.kind == TransportErrorKind::Timeout && redirects > 0 {
                format!(
                    "the authUrl did not answer within the request timeout ({} ms) for the \
                     whole chain: {} after {redirects} redirect(s) timed out",
                    budget.as_millis(),
                    current.redacted()
                )
            } else {
                format!("the authUrl request to {} failed", current.redacted())
            };
            callback_error(what).with_cause(cause)
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
        let next = redirect::resolve(&current, location)?;
        if redirect::becomes_get(response.status, request.method == Method::Post) {
            request.method = Method::Get;
            request.body = None;
            request
                .headers
                .retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
        }
        if !current.same_origin(&next) {
            // The caller's authHeaders may be credentials for its own server only.
            request.headers.retain(|(name, _)| {
                !options
                    .auth_headers
                    .iter()
                    .any(|(own, _)| own.eq_ignore_ascii_case(name))
            });
        }
        request.url = next.to_string();
        current = next;
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
