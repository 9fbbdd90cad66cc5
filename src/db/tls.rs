//! TLS key share: P-256 first (issue 19).
//!
//! OpenSSL 3 opens a TLS 1.3 handshake with an X25519 key share. PostgreSQL
//! up to 17 offers only P-256 by default (`ssl_ecdh_curve = prime256v1`), so
//! the server answers with a HelloRetryRequest: one more round trip on every
//! connection. libpq gives no way to set the client's groups, and OpenSSL is
//! linked statically, so the linker wraps `SSL_CTX_new` (see `build.rs`, as
//! for the libpq wraps in [`super::libpq`] and [`super::setup`]): each new
//! context offers P-256 first, then X25519 and P-384. Servers that prefer
//! X25519 still accept P-256, which every TLS 1.3 server implements.

use std::ffi::c_void;
use std::os::raw::{c_int, c_long};

/// `SSL_CTRL_SET_GROUPS_LIST`, what `SSL_CTX_set1_groups_list` expands to.
const SSL_CTRL_SET_GROUPS_LIST: c_int = 92;

/// The groups a client context offers, the first one with a key share.
const GROUPS: &[u8] = b"P-256:X25519:P-384\0";

extern "C" {
    fn __real_SSL_CTX_new(method: *const c_void) -> *mut c_void;
    fn SSL_CTX_ctrl(ctx: *mut c_void, cmd: c_int, larg: c_long, parg: *mut c_void) -> c_long;
}

/// OpenSSL's `SSL_CTX_new`, then P-256 first in the offered groups.
///
/// # Safety
/// As `SSL_CTX_new`.
#[no_mangle]
pub unsafe extern "C" fn __wrap_SSL_CTX_new(method: *const c_void) -> *mut c_void {
    // SAFETY: the caller's contract is SSL_CTX_new's.
    let ctx = unsafe { __real_SSL_CTX_new(method) };
    if !ctx.is_null() {
        // SAFETY: a live context and a NUL-terminated list; OpenSSL copies
        // it. A failure leaves OpenSSL's defaults, which still work.
        unsafe {
            SSL_CTX_ctrl(
                ctx,
                SSL_CTRL_SET_GROUPS_LIST,
                0,
                GROUPS.as_ptr() as *mut c_void,
            )
        };
    }
    ctx
}
