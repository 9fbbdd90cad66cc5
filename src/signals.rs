//! Ctrl-C and SIGTERM: the server is asked to cancel the running statement
//! (see [`crate::db::libpq`]), one `error: interrupted` line (or JSON
//! object) is written, and the process exits 130 (SIGINT) or 143 (SIGTERM),
//! as shells report a process killed by those signals. Whatever the
//! statement was doing is rolled back by the server. Files registered with
//! [`remove_on_signal`] (a backup's temporary file, the editor's buffer) are
//! removed first, so an interrupted command leaves no partial output and
//! no copy of user data behind.

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

/// Paths (leaked C strings) the handler removes before exiting: a file with
/// `unlink`, an empty directory with `rmdir`.
static CLEANUP: [AtomicPtr<libc::c_char>; 8] = [const { AtomicPtr::new(std::ptr::null_mut()) }; 8];

/// While the returned guard lives, an interrupting signal removes `path`
/// (a file, or an empty directory registered after the files in it) before
/// the process exits. Without a free slot the path is not registered (the
/// guard still works; only the signal-time removal is lost), which cannot
/// happen with the few files a command writes.
pub fn remove_on_signal(path: &std::path::Path) -> CleanupGuard {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return CleanupGuard { slot: None };
    };
    let raw = c.into_raw();
    for (i, slot) in CLEANUP.iter().enumerate() {
        if slot
            .compare_exchange(
                std::ptr::null_mut(),
                raw,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
        {
            return CleanupGuard { slot: Some(i) };
        }
    }
    // SAFETY: `raw` came from `into_raw` above and was stored nowhere.
    drop(unsafe { std::ffi::CString::from_raw(raw) });
    CleanupGuard { slot: None }
}

/// Unregisters a path of [`remove_on_signal`] when dropped (the string is
/// leaked: a handler running on another thread may still be reading it).
pub struct CleanupGuard {
    slot: Option<usize>,
}

impl Drop for CleanupGuard {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.and_then(|i| CLEANUP.get(i)) {
            slot.store(std::ptr::null_mut(), Ordering::Release);
        }
    }
}

/// Runs `f` with SIGINT ignored (as git does while the editor runs: the
/// editor, in the same process group, handles its own Ctrl-C).
pub fn ignoring_interrupts<T>(f: impl FnOnce() -> T) -> T {
    // SAFETY: sigaction with a zeroed action (SIG_IGN) and a valid out
    // pointer; the old action is restored afterwards.
    unsafe {
        let mut ignore: libc::sigaction = std::mem::zeroed();
        ignore.sa_sigaction = libc::SIG_IGN;
        libc::sigemptyset(&mut ignore.sa_mask);
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGINT, &ignore, &mut old);
        let result = f();
        libc::sigaction(libc::SIGINT, &old, std::ptr::null_mut());
        result
    }
}

extern "C" fn handler(signal: libc::c_int) {
    crate::db::conn::cancel::cancel_all();
    for slot in &CLEANUP {
        let path = slot.load(Ordering::Acquire);
        // SAFETY: unlink and rmdir are async-signal-safe; `path` is a
        // leaked, NUL-terminated string that is never freed.
        unsafe {
            if !path.is_null() && libc::unlink(path) != 0 {
                libc::rmdir(path);
            }
        }
    }
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
