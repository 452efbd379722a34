//! Pure logic: no `unsafe`, no C types, no sockets, no threads. Everything here is a
//! function of its inputs (plus the CSPRNG for nonces and the injected [`clock::Clock`]).

pub mod capability;
pub mod client_id;
pub mod clock;
pub mod endpoint;
pub mod error;
pub mod jwt;
pub mod key;
pub mod material;
pub mod redirect;
pub mod renewal;
pub mod sign;
pub mod token;
pub mod url;
