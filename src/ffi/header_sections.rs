//! The order of `include/ably_auth.h`: its sections in task order, the short introduction
//! each one opens with, and the items (functions, types, constants) it holds.
//!
//! cbindgen writes the items in source-file order; `tests/header.rs` rearranges them into
//! these sections, writes the table of contents, and fails when an item of the header is in
//! no section, in two, or is used before the section that defines it. A new function is
//! therefore placed here when it is added. A name ending in `*` takes every item with that
//! prefix that no other entry names.

/// One section of the C header.
pub struct HeaderSection {
    /// The title, as the table of contents shows it.
    pub title: &'static str,
    /// The introduction printed under the title: plain sentences, no spec IDs. Wrapped to
    /// the header's width, unless it holds line breaks (a table), which are kept.
    pub intro: &'static str,
    /// The items, in the order the section lists them.
    pub items: &'static [&'static str],
}

/// The sections of `include/ably_auth.h`, in order.
pub static HEADER_SECTIONS: &[HeaderSection] = &[
    HeaderSection {
        title: "Handles",
        intro: "The library's opaque handle types, declared here so that every section may \
                name them. Each is created and freed by the functions of its section.",
        items: &[
            "ably_auth",
            "ably_auth_options",
            "ably_token_params",
            "ably_token_request",
            "ably_token_details",
            "ably_auth_completion",
            "ably_call",
            "ably_http_exchange",
            "ably_http_response",
            "ably_revocation_result",
        ],
    },
    HeaderSection {
        title: "Getting started: errors, options and the Auth",
        intro: "Every fallible function returns an ably_error_info (NULL on success) that the \
                caller frees. An Auth is made from options, which ably_auth_new consumes: \
                a key is enough to issue tokens offline; a token, an authUrl or an \
                authCallback lets it obtain tokens over the network.",
        items: &[
            "ably_error_info",
            "ably_error_info_free",
            "ably_str",
            "ably_string_free",
            "ably_free_fn",
            "ably_auth_options_new",
            "ably_auth_options_free",
            "ably_auth_options_set_key",
            "ably_auth_options_set_client_id",
            "ably_auth_options_set_use_token_auth",
            "ably_auth_new",
            "ably_auth_free",
            "ably_auth_shutdown",
            "ably_auth_client_id",
        ],
    },
    HeaderSection {
        title: "Options",
        intro: "Every other setter of the options: a token given up front, default token \
                params, the authUrl and authCallback, hosts and ports, TLS and proxies, \
                timeouts and retries, renewal ahead of expiry, worker threads, and the \
                host's own HTTP transport. A setter that fails leaves the options unchanged.",
        items: &[
            "ably_auth_options_set_token",
            "ably_auth_options_set_token_details",
            "ably_auth_options_set_default_token_params",
            "ably_auth_options_set_auth_url",
            "ably_auth_options_set_auth_method",
            "ably_auth_options_add_auth_header",
            "ably_auth_options_add_auth_param",
            "ably_auth_callback_fn",
            "ably_auth_options_set_auth_callback",
            "ably_auth_options_set_query_time",
            "ably_auth_options_set_endpoint",
            "ably_auth_options_set_environment",
            "ably_auth_options_set_rest_host",
            "ably_auth_options_set_fallback_hosts",
            "ably_auth_options_set_tls",
            "ably_auth_options_set_port",
            "ably_auth_options_set_tls_port",
            "ably_auth_options_set_timeouts",
            "ably_auth_options_set_*",
            "ably_auth_options_add_*",
            "ably_http_send_fn",
            "ably_http_cancel_fn",
            "ably_auth_options_set_http_transport",
        ],
    },
    HeaderSection {
        title: "Issuing offline: TokenRequests and JWTs",
        intro: "What a token-issuing server calls for each player: a signed TokenRequest or \
                an Ably JWT, made from the key with no network I/O (unless the options ask \
                for the server's time). The _into forms take their parameters as a struct \
                of borrowed strings, for bindings that avoid a builder per call.",
        items: &[
            "ably_auth_create_token_request",
            "ably_auth_create_token_request_with_options",
            "ably_token_params_values",
            "ably_token_request_values",
            "ably_auth_create_token_request_into",
            "ably_auth_create_jwt",
            "ably_auth_create_jwt_into",
            "ably_jwt_embed_token",
        ],
    },
    HeaderSection {
        title: "Tokens over the network",
        intro: "Obtaining, caching, renewing and revoking tokens, and the Authorization \
                header for the host's own requests. These calls block their thread until \
                their deadline at most (see the deadlines in the conventions); each has a \
                non-blocking form in the next section. An authCallback answers through its \
                completion, now or later, from any thread.",
        items: &[
            "ably_auth_completion_*",
            "ably_auth_request_token",
            "ably_auth_authorize",
            "ably_auth_authorization_header",
            "ably_auth_cached_authorization_header",
            "ably_auth_token_details",
            "ably_auth_token_remaining_ms",
            "ably_auth_token_rejected",
            "ably_auth_time",
            "ably_auth_revoke_tokens",
            "ably_revocation_result_*",
            "ABLY_ISSUED_BEFORE_UNSET",
            "ABLY_REAUTH_MARGIN_*",
            "ably_auth_request",
            "ably_http_response_*",
        ],
    },
    HeaderSection {
        title: "Non-blocking calls",
        intro: "Each networked call has an _async form that returns at once with a call \
                handle and reports exactly once through its done callback, on a library \
                thread: with the result, or with ABLY_ERR_CANCELLED after ably_call_cancel, \
                or ABLY_ERR_SHUT_DOWN after ably_auth_shutdown or ably_auth_free.",
        items: &[
            "ably_token_details_done_fn",
            "ably_string_done_fn",
            "ably_time_done_fn",
            "ably_revocation_done_fn",
            "ably_response_done_fn",
            "ably_auth_*_async",
            "ably_call_cancel",
            "ably_call_free",
        ],
    },
    HeaderSection {
        title: "The host's HTTP transport",
        intro: "A host that sends HTTP itself (its own TLS, proxy or event loop) sets a \
                transport with ably_auth_options_set_http_transport; the library hands it \
                each request as an exchange, which the host answers exactly once, now or \
                later, from any thread.",
        items: &[
            "ABLY_HTTP_PURPOSE_*",
            "ABLY_HTTP_FAIL_*",
            "ably_http_exchange_*",
        ],
    },
    HeaderSection {
        title: "Listeners and the log",
        intro: "Events of an Auth (a new token in use, or a failure to obtain one) reach its \
                listeners, one at a time per Auth, with no library lock held. The log sink \
                set on the options hears what the library does, at the levels below; keys, \
                tokens and macs never appear in it.",
        items: &[
            "ably_auth_listener_fn",
            "ably_auth_add_listener",
            "ably_auth_remove_listener",
            "ably_log_fn",
            "ABLY_LOG_LEVEL_*",
            "ably_auth_options_set_log",
        ],
    },
    HeaderSection {
        title: "Token and params types",
        intro: "TokenParams (a builder), TokenRequest and TokenDetails (immutable, safe to \
                read from many threads): JSON in and out, and getters whose strings are \
                borrowed from the handle.",
        items: &[
            "ably_token_params_*",
            "ably_token_request_*",
            "ably_token_details_*",
        ],
    },
    HeaderSection {
        title: "Errors and codes",
        intro: ERRORS_INTRO,
        items: &["ABLY_ERR_*"],
    },
    HeaderSection {
        title: "Version and features",
        intro: "The version of the header and of the linked library, and the optional parts \
                built into it.",
        items: &[
            "ABLY_AUTH_VERSION_*",
            "ABLY_AUTH_FEATURE_*",
            "ably_auth_version*",
            "ably_auth_features",
        ],
    },
];

/// The errors section's table: which codes come from the library and which carry a server's
/// status. README.md ("Errors") has the same table.
const ERRORS_INTRO: &str = "\
An ably_error_info carries an Ably error code and an HTTP status. The status is the HTTP
status of the answer the error reports when there was one (a server's error, an authUrl's
answer); for an error raised by the library it is the status Ably gives that code; it is 0
when no HTTP status applies (a bad argument, no answer at all, the library's own codes).

  code    name                                  status  raised by
  ------  ------------------------------------  ------  ----------------------------------
  40000   ABLY_ERR_BAD_REQUEST                  0, 400  library: conflicting options (0);
                                                        server: a bad request (400)
  40003   ABLY_ERR_INVALID_ARGUMENT             0       library: NULL, invalid UTF-8, an
                                                        out-of-range value, a consumed
                                                        builder, malformed JSON
  40012   ABLY_ERR_INVALID_CLIENT_ID            400     library: empty clientId, or `*`
                                                        where a real one is needed
  40101   ABLY_ERR_INVALID_CREDENTIALS          401     library: a malformed key; server:
                                                        credentials refused
                                                403     library: a TokenRequest or JWT to
                                                        sign and no key (as Ably's SDKs)
  40102   ABLY_ERR_INCOMPATIBLE_CREDENTIALS     401     library or server: a token whose
                                                        clientId conflicts with the options
  40103   ABLY_ERR_INSECURE_BASIC_AUTH          401     library: a key over plain HTTP
                                                        without token auth
  40104   ABLY_ERR_TIMESTAMP_NOT_CURRENT        401     server: clock skew (the library
                                                        reads the server's time, retries once)
  40106   ABLY_ERR_NO_AUTH_METHOD               401     library: no key, token, authUrl or
                                                        authCallback
  40140-  ABLY_ERR_TOKEN_ERROR_FIRST..._LAST    401     server: the token is expired,
  40149                                                 revoked or unknown (the library
                                                        renews once and retries)
  40162   ABLY_ERR_REQUIRES_BASIC_AUTH          401     library: revokeTokens without a key
  40170   ABLY_ERR_AUTH_CALLBACK_FAILED         401     library: the authCallback or authUrl
                                                        failed, answered badly or late; the
                                                        original error is the cause
  40171   ABLY_ERR_TOKEN_RENEWAL_NOT_CONFIGURED 403     library: a new token is needed and
                                                        nothing can make one
  50000   ABLY_ERR_INTERNAL                     500     library: a caught panic, an answer
                                                        too large or unreadable; server: 5xx
  50003   ABLY_ERR_TIMEOUT                      0       library: no answer within a deadline
  80000   ABLY_ERR_CONNECTION_FAILED            0       library: no connection (DNS, refused,
                                                        TLS)
  100001  ABLY_ERR_REENTRANT_CALL ...           0       library: its own conditions, for
  -100006 ABLY_ERR_TOO_MANY_CALLS                       which Ably has no code

Any other code is the server's, with the server's status: an Ably error body or
X-Ably-Errorcode header wins; an error status without either gets Ably's generic code for
that status (40000, 40100, 40300, 40400, 40500, 42910 for 429, 50000) or of its class.
An authCallback error with status 403 and no code becomes 40300 with status 403.";
