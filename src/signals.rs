//! Ctrl-C and SIGTERM: the server is asked to cancel the running statement
//! (the connections' cancel tokens, [`crate::db::conn::cancel`]), files
//! registered with [`remove_on_signal`] (a backup's temporary file, the
//! editor's buffer) are removed, so an interrupted command leaves no
//! partial output and no copy of user data behind, one `error:
//! interrupted` line (or JSON object) is written, and the signal is raised
//! again with its default action: the process ends killed by SIGINT or
//! SIGTERM, which shells report as 130 or 143 (and a parent shell's own
//! loop stops, as it should after Ctrl-C). Whatever the statement was doing
//! is rolled back by the server.
//!
//! The handler itself only writes the signal's number into a pipe (all a
//! handler may safely do); a thread that waits on the pipe does the rest,
//! where it may take locks.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicUsize, Ordering};

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
    let mut fds = [-1 as libc::c_int; 2];
    // SAFETY: pipe fills two descriptors on success.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } == 0 {
        for fd in fds {
            // SAFETY: fcntl on descriptors just made: close them on exec.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
        let reader = fds[0];
        let spawned = std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || watch(reader));
        if spawned.is_ok() {
            WAKE.store(fds[1], Ordering::Release);
        }
    }
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

/// The pipe's writing end (-1: no thread; the handler then does the part
/// it safely can itself).
static WAKE: AtomicI32 = AtomicI32::new(-1);
/// Set once a signal arrived: the command's own error (its statement was
/// cancelled) must not be printed, nor its exit code win.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Whether the command was interrupted (the signal thread is ending the
/// process).
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Acquire)
}

/// Waits for the signal thread to end the process (after an interrupt).
pub fn wait_for_the_end() -> ! {
    loop {
        std::thread::park();
    }
}

extern "C" fn handler(signal: libc::c_int) {
    // A second signal while the first is being handled (the cancel request
    // waits for an unreachable server): end now, as fd and cargo do.
    if INTERRUPTED.swap(true, Ordering::AcqRel) {
        finish(signal);
    }
    let fd = WAKE.load(Ordering::Acquire);
    let byte = signal as u8;
    // SAFETY: write is async-signal-safe; one byte from the stack.
    if fd >= 0 && unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) } == 1 {
        return;
    }
    // No thread: no cancel (it needs a lock); the rest, and exit.
    finish(signal);
}

/// The signal thread: waits for a signal, cancels the running statements
/// (waiting for the server at most [`crate::db::conn::cancel::CANCEL_WAIT`]),
/// then ends the process as the signal would have.
fn watch(reader: libc::c_int) {
    let mut byte = 0u8;
    loop {
        // SAFETY: read into one byte of our own.
        let n = unsafe { libc::read(reader, (&mut byte as *mut u8).cast(), 1) };
        if n == 1 {
            break;
        }
        if n == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return;
        }
    }
    if !crate::db::conn::cancel::cancel_all() {
        // The server was not reached in time: what it runs may complete.
        eprintln!(
            "todo: the server did not take the request to cancel the running statement; \
             it may still complete"
        );
    }
    finish(libc::c_int::from(byte));
}

/// Removes the registered files, writes the message and raises `signal`
/// again with its default action (async-signal-safe calls only).
fn finish(signal: libc::c_int) {
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
    // SAFETY: write, signal, raise and _exit are async-signal-safe; `text`
    // is a leaked, never-freed buffer of `len` bytes (or null).
    unsafe {
        if !text.is_null() {
            libc::write(2, text.cast(), len);
        }
        libc::signal(signal, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(signal);
        // Not reached: the default action of SIGINT and SIGTERM ends the
        // process. Should it not, exit as shells report it.
        libc::_exit(128 + signal);
    }
}

/// Set while a `--jq` filter runs (see [`stack_overflow_is_the_filters`]).
static FILTER_RUNNING: AtomicBool = AtomicBool::new(false);
/// The action for SIGSEGV and SIGBUS before ours (Rust's own, which names
/// a thread that overflowed its stack and aborts).
static PREVIOUS: [AtomicPtr<libc::sigaction>; 2] =
    [const { AtomicPtr::new(std::ptr::null_mut()) }; 2];

/// The message of a filter that recursed until the stack ran out.
const TOO_DEEP: &[u8] = b"error: --jq: the filter recursed too deeply (the stack ran out)\n";

/// While the returned guard lives, a stack overflow (SIGSEGV or SIGBUS on
/// the guard page) is the `--jq` filter's: jq's language recurses without
/// a bound (`def f: f + 1; f`), and the process then ends with one
/// `error:` line and exit 2 instead of Rust's abort. Any other fault, or
/// one while no filter runs, goes to the action there was before.
pub fn stack_overflow_is_the_filters() -> FilterGuard {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        for (i, signal) in [libc::SIGSEGV, libc::SIGBUS].into_iter().enumerate() {
            // SAFETY: zeroed sigactions are valid; the handler runs on the
            // alternate stack Rust sets up for each thread, and only calls
            // async-signal-safe functions.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_fault
                    as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void)
                    as libc::sighandler_t;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut action.sa_mask);
                let old: &'static mut libc::sigaction = Box::leak(Box::new(std::mem::zeroed()));
                if libc::sigaction(signal, &action, old) == 0 {
                    PREVIOUS[i].store(old, Ordering::Release);
                }
            }
        }
    });
    FILTER_RUNNING.store(true, Ordering::Release);
    FilterGuard
}

/// Ends [`stack_overflow_is_the_filters`]'s claim when dropped.
pub struct FilterGuard;

impl Drop for FilterGuard {
    fn drop(&mut self) {
        FILTER_RUNNING.store(false, Ordering::Release);
    }
}

extern "C" fn on_fault(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    if FILTER_RUNNING.load(Ordering::Acquire) {
        // SAFETY: write and _exit are async-signal-safe.
        unsafe {
            libc::write(2, TOO_DEEP.as_ptr().cast(), TOO_DEEP.len());
            libc::_exit(2);
        }
    }
    let i = usize::from(signal == libc::SIGBUS);
    let previous = PREVIOUS[i].load(Ordering::Acquire);
    // SAFETY: `previous` is the action saved when ours was installed (a
    // leaked, never-freed value); calling its handler as the kernel would,
    // or restoring the default action so that the fault repeats and ends
    // the process as it would have.
    unsafe {
        if !previous.is_null() {
            let handler = (*previous).sa_sigaction;
            if (*previous).sa_flags & libc::SA_SIGINFO != 0
                && handler != libc::SIG_DFL
                && handler != libc::SIG_IGN
            {
                let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    std::mem::transmute(handler);
                handler(signal, info, context);
                return;
            }
        }
        libc::signal(signal, libc::SIG_DFL);
    }
}
