//! A closed stdout (`todo task stats >&-`) must fail, as `echo hi >&-` does.
//! Rust's runtime reopens a closed fd 1 on `/dev/null` before `main`, so
//! every write would then succeed into nothing; this constructor looks at
//! fd 1 first (`.init_array` runs before the runtime's set-up).

use std::sync::atomic::{AtomicBool, Ordering};

static CLOSED: AtomicBool = AtomicBool::new(false);

extern "C" fn check() {
    // SAFETY: fcntl(F_GETFD) on a descriptor number only reads its flags.
    if unsafe { libc::fcntl(1, libc::F_GETFD) } == -1 {
        CLOSED.store(true, Ordering::Relaxed);
    }
}

#[used]
#[link_section = ".init_array"]
static CHECK: extern "C" fn() = check;

/// Whether the process started with fd 1 closed.
pub fn is_closed() -> bool {
    CLOSED.load(Ordering::Relaxed)
}
