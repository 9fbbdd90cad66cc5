//! Checks of a URL's parts that libpq would refuse less clearly: escapes,
//! ports, `sslmode`, and asyncpg's `ssl=` spelling of it.

use super::ENCODE_HINT;
use crate::error::{Error, Result};

/// Every `%` starts a two-hex-digit escape.
pub(super) fn valid_percent_escapes(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.iter().enumerate().all(|(i, b)| {
        *b != b'%'
            || (bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    })
}

/// A port, or a comma-separated list of them (multi-host URLs).
pub(super) fn check_ports(ports: &str) -> Result<()> {
    for port in ports.split(',') {
        if port.is_empty() {
            continue;
        }
        if !matches!(port.parse::<u32>(), Ok(1..=65535)) {
            return Err(Error::usage(format!(
                "invalid port '{}' in the database URL",
                port.chars().take(20).collect::<String>()
            ))
            .with_hint(format!("a port is a number from 1 to 65535; {ENCODE_HINT}")));
        }
    }
    Ok(())
}

pub(super) fn check_sslmode(mode: &str) -> Result<()> {
    const MODES: [&str; 6] = [
        "disable",
        "allow",
        "prefer",
        "require",
        "verify-ca",
        "verify-full",
    ];
    if MODES.contains(&mode) {
        return Ok(());
    }
    Err(Error::usage("invalid sslmode in the database URL")
        .with_hint(format!("use one of: {}", MODES.join(", "))))
}

/// `sslnegotiation=direct` with a weak `sslmode` (none given is `prefer`,
/// or `$PGSSLMODE`): libpq refuses it when connecting, which would be
/// reported as a server that cannot be reached (exit 5); it is bad input
/// (exit 2), said before anything is sent.
pub(super) fn check_direct_tls(negotiation: Option<&str>, mode: Option<&str>) -> Result<()> {
    if negotiation != Some("direct") {
        return Ok(());
    }
    let env = std::env::var("PGSSLMODE").ok().filter(|m| !m.is_empty());
    let mode = mode
        .map(str::to_string)
        .or(env)
        .unwrap_or_else(|| "prefer".into());
    if ["require", "verify-ca", "verify-full"].contains(&mode.as_str()) {
        return Ok(());
    }
    Err(Error::usage(format!(
        "sslnegotiation=direct needs TLS, and sslmode={mode} allows a connection without it"
    ))
    .with_hint("add sslmode=require (or verify-ca, verify-full), as libpq asks"))
}

/// asyncpg's `ssl=` value as libpq's `sslmode`.
pub(super) fn asyncpg_ssl(value: &str) -> Result<&'static str> {
    Ok(match value {
        "true" | "require" => "require",
        "false" | "disable" => "disable",
        "allow" => "allow",
        "prefer" => "prefer",
        "verify-ca" => "verify-ca",
        "verify-full" => "verify-full",
        _ => {
            return Err(
                Error::usage("unsupported value of ssl= in the database URL")
                    .with_hint("use ssl=require (or sslmode=require, disable, verify-full, …)"),
            )
        }
    })
}
