// Rebuild when a migration changes: they are embedded in the binary.
//
// The linker wraps libpq's PQconnectdb and PQfinish (GNU ld / lld
// `--wrap`): `src/db/libpq.rs` records each open connection's cancel key,
// so that Ctrl-C or SIGTERM can ask the server to cancel a running statement
// (PQcancel) before the process exits. diesel owns the PGconn and offers no
// way to reach it; these wraps (below: also two for diesel's setup SETs and
// one of OpenSSL's) are the only places this tool steps under diesel and
// libpq, each documented in its module.
// `--undefined` makes the linker take the wrappers from this crate even
// though diesel's objects, which call them, come later on its command line.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=build.rs");
    // A position-dependent executable (as Go builds by default): the
    // dynamic loader has no relocations to apply at each start, so the
    // 450 KB of pointer tables (Rust's vtables, OpenSSL's and libpq's tables)
    // are not copied page by page: 120 fewer page faults, `todo --version`
    // 2.0 → 1.5 ms (measured; packed RELR relocations saved 8 faults). The
    // price: the executable's own image is not randomised (libraries, stack
    // and heap still are). See README, "Linking libpq statically".
    println!("cargo:rustc-link-arg-bins=-no-pie");
    // PQsendQueryParams and PQgetResult: `src/db/setup.rs` answers diesel's
    // two setup SETs itself when the startup packet already made them.
    for symbol in [
        "PQconnectdb",
        "PQfinish",
        "PQsendQueryParams",
        "PQgetResult",
        // OpenSSL (linked statically): `src/db/tls.rs` offers P-256 first.
        "SSL_CTX_new",
    ] {
        println!("cargo:rustc-link-arg=-Wl,--wrap={symbol}");
        println!("cargo:rustc-link-arg=-Wl,--undefined=__wrap_{symbol}");
    }
}
