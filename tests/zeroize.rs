//! Secrets are zeroized on free (issue 6 item 5): the token of a `TokenDetails`, the mac of a
//! `TokenRequest`, the secret of an `ApiKey`, and the C strings cached in the C handles.
//!
//! This test binary installs a global allocator that, while armed, looks at every block
//! *before* handing it back to the system allocator and notes whether it still holds a marker
//! string. No freed memory is ever read: the check happens inside `dealloc`, while the block
//! is still owned. A control case proves the detector sees an ordinary `String` that is not
//! wiped.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};

use ably_auth::{ApiKey, TokenDetails, TokenRequest};

/// Not a substring of anything the library or the test harness allocates by itself.
const MARKER: &[u8] = b"Zq7-SECRET-MARKER-k3Vw9";

static ARMED: AtomicBool = AtomicBool::new(false);
static SEEN: AtomicBool = AtomicBool::new(false);

struct Scanning;

// SAFETY: forwards to `System`; `dealloc` only reads the block it is given, before freeing it.
unsafe impl GlobalAlloc for Scanning {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ARMED.load(Ordering::SeqCst) && layout.size() >= MARKER.len() {
            // SAFETY: the block is live until `System.dealloc` below and `layout.size()` long.
            let block = unsafe { std::slice::from_raw_parts(ptr, layout.size()) };
            if block.windows(MARKER.len()).any(|w| w == MARKER) {
                SEEN.store(true, Ordering::SeqCst);
            }
        }
        // SAFETY: forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
    // `realloc` keeps the default (alloc, copy, dealloc), so a block left behind by growth
    // passes through `dealloc` too.
}

#[global_allocator]
static ALLOCATOR: Scanning = Scanning;

fn marker() -> &'static str {
    std::str::from_utf8(MARKER).unwrap()
}

/// Whether any block freed while `f` runs (including what `f` drops) held the marker.
fn freed_with_marker(f: impl FnOnce()) -> bool {
    SEEN.store(false, Ordering::SeqCst);
    ARMED.store(true, Ordering::SeqCst);
    f();
    ARMED.store(false, Ordering::SeqCst);
    SEEN.load(Ordering::SeqCst)
}

/// One test only: the flags are global, so the cases run one after the other.
#[test]
fn secrets_are_wiped_before_their_memory_is_released() {
    // Control: a plain String with the marker is freed as it is.
    let plain = format!("token-{}", marker());
    assert!(
        freed_with_marker(|| drop(plain)),
        "the detector must see an unwiped String"
    );

    // TokenDetails: the token, also in a clone and after JSON parsing.
    let details = TokenDetails::from_token(format!("token-{}", marker()));
    let copy = details.clone();
    assert!(!freed_with_marker(|| drop(details)), "TokenDetails.token");
    assert!(
        !freed_with_marker(|| drop(copy)),
        "cloned TokenDetails.token"
    );
    let mut json = format!(r#"{{"token":"{}","expires":1}}"#, marker());
    let parsed = TokenDetails::from_json(&json).unwrap();
    zeroize::Zeroize::zeroize(&mut json);
    assert!(!freed_with_marker(|| drop(parsed)), "parsed TokenDetails");

    // TokenRequest: the mac.
    let mut request =
        TokenRequest::from_json(r#"{"keyName":"a.b","timestamp":1,"nonce":"n"}"#).unwrap();
    request.mac = Some(format!("mac-{}", marker()));
    let copy = request.clone();
    assert!(!freed_with_marker(|| drop(request)), "TokenRequest.mac");
    assert!(!freed_with_marker(|| drop(copy)), "cloned TokenRequest.mac");

    // ApiKey: the secret (already Zeroizing before this issue).
    let key_text = format!("appId.keyId:{}", marker());
    let key = ApiKey::parse(&key_text).unwrap();
    drop(key_text); // its own copy; not the library's business
    let key_copy = key.clone();
    assert!(!freed_with_marker(|| drop(key)), "ApiKey");
    assert!(!freed_with_marker(|| drop(key_copy)), "cloned ApiKey");

    // The C ABI: a TokenDetails handle whose token getter cached a C string copy.
    // (A prefix: CString's own drop clears the first byte, which would hide the marker.)
    let c_json = CString::new(format!(r#"{{"token":"tok-{}"}}"#, marker())).unwrap();
    let mut handle = std::ptr::null_mut();
    // SAFETY: valid NUL-terminated string and out pointer.
    let err = unsafe { ably_auth::ffi::ably_token_details_from_json(c_json.as_ptr(), &mut handle) };
    assert!(err.is_null());
    let mut c_json = c_json.into_bytes_with_nul();
    zeroize::Zeroize::zeroize(&mut c_json);
    drop(c_json);
    // SAFETY: live handle.
    let token = unsafe { ably_auth::ffi::ably_token_details_token(handle) };
    assert!(!token.is_null());
    // SAFETY: live handle, freed once.
    let seen = freed_with_marker(|| unsafe { ably_auth::ffi::ably_token_details_free(handle) });
    assert!(!seen, "ably_token_details_free");
}
