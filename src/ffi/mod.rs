//! The C ABI: the only module with `unsafe` code and `extern "C"` functions.
//!
//! Conventions (DESIGN.md §3): every entry point runs inside [`boundary`] (panics become error
//! ABLY_ERR_INTERNAL); errors come back as an owned `ably_error_info*` (NULL means success);
//! outputs are written through out-parameters, last in the argument list, only on success; NULL
//! where not allowed, invalid UTF-8 and out-of-range values give ABLY_ERR_INVALID_ARGUMENT
//! naming the argument. One file per C type.
#![allow(non_camel_case_types)]

mod auth;
mod boundary;
mod callback;
mod calls;
mod completion;
mod error;
mod handle;
#[doc(hidden)]
pub mod header_sections;
mod jwt;
mod listener;
mod options;
mod params;
mod response;
mod revocation;
mod strings;
mod token_details;
mod token_request;
mod transport;
mod version;

pub use auth::*;
pub use callback::{
    ABLY_LOG_LEVEL_DEBUG, ABLY_LOG_LEVEL_ERROR, ABLY_LOG_LEVEL_INFO, ABLY_LOG_LEVEL_VERBOSE,
    ABLY_LOG_LEVEL_WARN, ably_auth_callback_fn, ably_free_fn, ably_log_fn,
};
pub use calls::*;
pub use completion::*;
pub use error::*;
pub use jwt::*;
pub use listener::*;
pub use options::*;
pub use params::*;
pub use response::*;
pub use revocation::*;
pub use strings::*;
pub use token_details::*;
pub use token_request::*;
pub use transport::*;
pub use version::*;
