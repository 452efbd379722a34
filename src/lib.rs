//! # ably-auth
//!
//! Ably token authentication for native programs: signed TokenRequests (RSA9), Ably JWTs,
//! API key handling, capabilities, clientId rules and the Ably types (TokenParams,
//! TokenRequest, TokenDetails, ErrorInfo), with a C ABI for C, C++, Go and Swift.
//!
//! Layers (see `DESIGN.md`): [`core`] is pure and safe; [`auth`] holds state; `ffi` is the
//! only module with `unsafe` code and `extern "C"` functions.
//!
//! ```
//! use ably_auth::{Auth, ClientOptions, TokenParams};
//!
//! let auth = Auth::new(ClientOptions::from_key("appId.keyId:keySecret")?)?;
//! let params = TokenParams { client_id: Some("player-1".into()), ttl: Some(3_600_000), ..Default::default() };
//! let request = auth.create_token_request(Some(&params), None)?;
//! assert_eq!(request.key_name, "appId.keyId");
//! println!("{}", request.to_json());
//! # Ok::<(), ably_auth::ErrorInfo>(())
//! ```

#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod auth;
pub mod core;
#[allow(unsafe_code)]
pub mod ffi;
pub mod http;

pub use auth::Auth;
pub use auth::{
    AuthCallback, AuthEvent, AuthOptions, ClientOptions, Completion, ListenerId, LogLevel, Logger,
    auth_callback_fn,
};
pub use core::capability::Capability;
pub use core::clock::{Clock, ManualClock, SystemClock};
pub use core::endpoint::EndpointOptions;
pub use core::error::{ErrorInfo, Result};
pub use core::jwt::{JwtOptions, embed_token_in_jwt};
pub use core::key::ApiKey;
pub use core::material::{RevocationOutcome, RevocationResult, TokenMaterial};
pub use core::token::{TokenDetails, TokenParams, TokenRequest};
pub use http::rest::FallbackPolicy;
pub use http::{HttpResponse, Method, TransportOptions};
