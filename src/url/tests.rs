//! Unit tests of URL parsing, masking and precedence.
use super::*;

fn parse(raw: &str) -> DbUrl {
    DbUrl::parse(raw, None, 5).unwrap()
}

#[test]
fn sqlalchemy_schemes_become_postgresql() {
    for scheme in [
        "postgresql+psycopg",
        "postgresql+psycopg2",
        "postgresql+asyncpg",
    ] {
        let url = parse(&format!("{scheme}://u:pw@h:5432/db?sslmode=require"));
        assert_eq!(
            url.libpq(),
            "postgresql://u:pw@h:5432/db?sslmode=require&connect_timeout=5&fallback_application_name=todo&client_encoding=UTF8"
        );
    }
}

#[test]
fn asyncpg_ssl_becomes_sslmode() {
    let url = parse("postgresql+asyncpg://u@h/db?ssl=require");
    assert!(url.libpq().contains("?sslmode=require&"), "{}", url.libpq());
    assert!(!url.libpq().contains("ssl=require"));
    let url = parse("postgresql+asyncpg://u@h/db?ssl=true");
    assert!(url.libpq().contains("sslmode=require"));
    assert!(DbUrl::parse("postgresql://h/db?ssl=maybe", None, 5).is_err());
    assert!(DbUrl::parse("postgresql://h/db?ssl=true&sslmode=disable", None, 5).is_err());
}

#[test]
fn other_parameters_are_kept() {
    let url = parse("postgresql://u@h/db?sslmode=require&channel_binding=require&options=-c%20x");
    assert!(url.libpq().starts_with(
        "postgresql://u@h/db?sslmode=require&channel_binding=require&options=-c%20x&"
    ));
}

#[test]
fn connect_timeout_precedence() {
    assert!(parse("postgres://h/db")
        .libpq()
        .contains("connect_timeout=5"));
    assert!(parse("postgres://h/db?connect_timeout=9")
        .libpq()
        .contains("connect_timeout=9"));
    let url = DbUrl::parse("postgres://h/db?connect_timeout=9", Some(2), 5).unwrap();
    assert!(url.libpq().contains("connect_timeout=2"));
    assert!(!url.libpq().contains("connect_timeout=9"));
}

#[test]
fn unknown_schemes_are_usage_errors() {
    let err = DbUrl::parse("mysql://h/db", None, 5).unwrap_err();
    assert_eq!(err.kind, crate::error::Kind::Usage);
    assert!(DbUrl::parse("not a url", None, 5).is_err());
}

#[test]
fn display_and_mask_hide_the_password() {
    let url = parse("postgresql://alice:s%40cret@db.example.com:6543/app");
    assert_eq!(url.display(), "alice@db.example.com:6543/app");
    assert_eq!(
        url.mask("bad: postgresql://alice:s%40cret@x and alice:s@cret@x"),
        "bad: postgresql://alice:****@x and alice:****@x"
    );
    let url = parse("postgresql:///app?host=%2Ftmp%2Fs&user=bob&password=hunter22");
    assert_eq!(url.display(), "bob@/tmp/s/app");
    assert_eq!(url.mask("password=hunter22"), "password=****");
}

#[test]
fn urls_libpq_would_split_elsewhere_are_refused_without_the_password() {
    for raw in [
        "postgresql://weird:Sec/retPW@127.0.0.1:5477/todo2",
        "postgresql://u:abc@TopSecretPart@127.0.0.1/db",
        "postgresql://u:pa?ssWORD@h/db",
        "postgresql://u:pa#ssWORD@h/db",
        "postgresql://u:pa%zzWORD@h/db",
        "postgresql+asyncpg://weird:Sec/retPW@h/db?ssl=require",
    ] {
        let err = DbUrl::parse(raw, None, 5).unwrap_err();
        assert_eq!(err.kind, crate::error::Kind::Usage, "{raw}");
        let text = format!("{} {}", err.message, err.hint.clone().unwrap_or_default());
        for part in ["retPW", "TopSecret", "ssWORD"] {
            assert!(!text.contains(part), "{raw}: {text}");
        }
        assert!(text.contains("percent-encode"), "{raw}: {text}");
    }
    // Encoded, the same passwords are fine.
    let url = parse("postgresql://weird:Sec%2FretPW@127.0.0.1:5477/todo2");
    assert_eq!(url.display(), "weird@127.0.0.1:5477/todo2");
}

#[test]
fn bad_ports_and_sslmodes_are_usage_errors() {
    for raw in [
        "postgresql://h:abc/db",
        "postgresql://h:99999/db",
        "postgresql://h/db?port=abc",
        "postgresql://h/db?sslmode=bogus",
        "postgresql://[::1/db",
    ] {
        let err = DbUrl::parse(raw, None, 5).unwrap_err();
        assert_eq!(err.kind, crate::error::Kind::Usage, "{raw}");
    }
    assert!(DbUrl::parse("postgresql://h1:5432,h2:5433/db", None, 5).is_ok());
    assert!(DbUrl::parse("postgresql://[::1]:5432/db", None, 5).is_ok());
}

#[test]
fn masking_is_contextual_so_short_passwords_do_not_mangle_messages() {
    let url = parse("postgresql://u:x@h/db");
    assert_eq!(
        url.mask("timeout expired for u:x@h:5432"),
        "timeout expired for u:****@h:5432"
    );
    assert_eq!(url.mask("see postgresql://u:x@h/db"), "see u@h/db");
    let url = parse("postgresql:///db?host=%2Ftmp&password=x&user=u");
    assert_eq!(
        url.mask("password=x user=u, box of x"),
        "password=**** user=u, box of x"
    );
    assert_eq!(url.mask(url.libpq()), url.display());
}

#[test]
fn libpq_reads_the_url_and_refuses_what_it_does_not_know() {
    // An unknown parameter is refused before connecting, by libpq's list.
    let err = DbUrl::parse("postgresql://u:Secr3t@h/db?nonsense=1", None, 5).unwrap_err();
    assert_eq!(err.kind, crate::error::Kind::Usage);
    assert!(err.message.contains("nonsense"), "{}", err.message);
    assert!(!err.message.contains("Secr3t"), "{}", err.message);
    // What is shown is what libpq read: ports from the query, several
    // hosts, IPv6, a socket directory without its port.
    assert_eq!(
        parse("postgresql://u@h/db?port=6543").display(),
        "u@h:6543/db"
    );
    assert_eq!(
        parse("postgresql://h1:5432,h2:5433/db").display(),
        "h1:5432,h2:5433/db"
    );
    assert_eq!(
        parse("postgresql://[::1]:5432/db").display(),
        "[::1]:5432/db"
    );
    assert_eq!(
        parse("postgresql:///db?host=/run/pg&port=5433&user=u").display(),
        "u@/run/pg/db"
    );
    // No database named (libpq's default): no empty path after the host.
    assert_eq!(parse("postgresql:///?host=/run/pg").display(), "/run/pg");
    assert_eq!(parse("postgresql://h:5433").display(), "h:5433");
    // A password given as a parameter is masked as libpq decoded it.
    let url = parse("postgresql://u@h/db?password=p%40ss");
    assert_eq!(url.mask("password=p@ss"), "password=****");
}

#[test]
fn a_service_names_the_place_not_localhost() {
    let url = DbUrl::parse("service=qa dbname=app user=app", None, 5).unwrap();
    assert_eq!(url.display(), "app@service qa/app");
    let url = DbUrl::parse("service=qa", None, 5).unwrap();
    assert_eq!(url.display(), "service qa");
    let url = DbUrl::parse("host=db.example.com dbname=app", None, 5).unwrap();
    assert_eq!(url.display(), "db.example.com/app");
}

#[test]
fn direct_tls_with_a_weak_sslmode_is_bad_input() {
    for raw in [
        "postgresql://h/db?sslmode=prefer&sslnegotiation=direct",
        "postgresql://h/db?sslnegotiation=direct",
        "host=h sslmode=allow sslnegotiation=direct",
    ] {
        let err = DbUrl::parse(raw, None, 5).unwrap_err();
        assert_eq!(err.kind, crate::error::Kind::Usage, "{raw}");
        // A libpq before 17 does not know the parameter at all (also exit 2).
        if crate::db::conn::libpq_version() >= 170000 {
            assert!(
                err.message.contains("sslnegotiation=direct needs TLS"),
                "{raw}: {}",
                err.message
            );
        }
    }
    if crate::db::conn::libpq_version() >= 170000 {
        DbUrl::parse(
            "postgresql://h/db?sslmode=require&sslnegotiation=direct",
            None,
            5,
        )
        .unwrap();
    }
}
