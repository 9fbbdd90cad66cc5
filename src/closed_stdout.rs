//! A closed stdout (`todo task stats >&-`) must fail, as `echo hi >&-` does.
//! Rust's runtime reopens a closed fd 1 on `/dev/null` before `main`, so
//! every write would then succeed into nothing; this constructor looks at
//! fd 1 first (a constructor runs before the runtime's set-up): in
//! `.init_array` on ELF systems, `__mod_init_func` on Apple's. Elsewhere
//! there is no constructor and a closed stdout goes unnoticed.

use std::sync::atomic::{AtomicBool, Ordering};

static CLOSED: AtomicBool = AtomicBool::new(false);

extern "C" fn check() {
    // SAFETY: fcntl(F_GETFD) on a descriptor number only reads its flags.
    if unsafe { libc::fcntl(1, libc::F_GETFD) } == -1 {
        CLOSED.store(true, Ordering::Relaxed);
    }
}

#[used]
#[cfg_attr(
    any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "dragonfly",
        target_os = "illumos",
        target_os = "solaris"
    ),
    link_section = ".init_array"
)]
#[cfg_attr(target_vendor = "apple", link_section = "__DATA,__mod_init_func")]
static CHECK: extern "C" fn() = check;

/// Whether the process started with fd 1 closed.
pub fn is_closed() -> bool {
    CLOSED.load(Ordering::Relaxed)
}
