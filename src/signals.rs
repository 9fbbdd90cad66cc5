//! Ctrl-C and SIGTERM: the server is asked to cancel the running statement
//! (see [`crate::db::libpq`]), one `error: interrupted` line (or JSON
//! object) is written, and the process exits 130 (SIGINT) or 143 (SIGTERM),
//! as shells report a process killed by those signals. Whatever the
//! statement was doing is rolled back by the server.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use crate::error::{Error, Kind};

/// The bytes written on stderr when interrupted (built before any signal,
/// so the handler only calls `write`).
static MESSAGE: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static MESSAGE_LEN: AtomicUsize = AtomicUsize::new(0);

/// Installs the handlers; `json` chooses the form of the message.
pub fn install(json: bool) {
    let mut text = Vec::new();
    if !json && std::io::stderr().is_terminal() {
        // After a prompt or a progress bar, start on a line of its own.
        text.push(b'\n');
    }
    Error::new(Kind::Interrupted, "interrupted").print(&mut text, json);
    let text: &'static mut [u8] = Box::leak(text.into_boxed_slice());
    MESSAGE_LEN.store(text.len(), Ordering::Release);
    MESSAGE.store(text.as_mut_ptr(), Ordering::Release);
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction with a handler of the right type and
        // an empty mask is valid; `handler` only calls async-signal-safe code.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handler as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

extern "C" fn handler(signal: libc::c_int) {
    crate::db::libpq::cancel_all();
    let text = MESSAGE.load(Ordering::Acquire);
    let len = MESSAGE_LEN.load(Ordering::Acquire);
    let code = if signal == libc::SIGINT {
        i32::from(Kind::Interrupted.exit_code())
    } else {
        128 + signal
    };
    // SAFETY: write and _exit are async-signal-safe; `text` is a leaked,
    // never-freed buffer of `len` bytes (or null before install).
    unsafe {
        if !text.is_null() {
            libc::write(2, text.cast(), len);
        }
        libc::_exit(code);
    }
}
