//! Files and names of a local cluster: private-directory checks, config
//! quoting, the stable hash of a home, URL encoding.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::server::{self, io_error, is_root};
use crate::error::{Error, Result};

/// Refuses a directory that someone other than us (or, as root, the
/// server's user) owns, or that group or others may write to.
pub(super) fn check_private_dir(dir: &Path, meta: &fs::Metadata, server_uid: u32) -> Result<()> {
    let refuse = |why: String| {
        Err(Error::unavailable(format!(
            "refusing to use {} for the local database: {why}",
            dir.display()
        ))
        .with_hint(
            "another local user could take over the database's socket; use a \
             directory only you own (set TODO_HOME), or remove this one",
        ))
    };
    if !meta.is_dir() {
        return refuse("it is not a directory".into());
    }
    let owner = meta.uid();
    if owner != server::euid() && owner != server_uid && !(is_root() && owner == 0) {
        return refuse(format!("it belongs to another user (uid {owner})"));
    }
    if meta.mode() & 0o022 != 0 {
        return refuse(format!(
            "group or others may write to it (mode {:o})",
            meta.mode() & 0o777
        ));
    }
    Ok(())
}

/// A `postgresql.conf` string value: single-quoted, with `'` and `\` escaped.
pub(super) fn conf_quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
}

/// FNV-1a: a hash that stays the same across Rust releases (the socket
/// directory name must not change under a running server).
pub(super) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

pub(super) fn append(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| io_error("write", path, e))
}

/// Percent-encodes everything but unreserved characters.
pub(super) fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conf_values_are_quoted() {
        assert_eq!(conf_quote("/tmp/a'b\\c$d"), "'/tmp/a''b\\\\c$d'");
        assert_eq!(conf_quote(""), "''");
    }

    #[test]
    fn unusual_homes_get_a_plain_socket_directory() {
        use super::super::Cluster;
        use std::path::PathBuf;
        let plain = Cluster::new("/tmp/home-1.x");
        assert_eq!(plain.socket_dir(), PathBuf::from("/tmp/home-1.x/run"));
        for odd in ["/tmp/a$(id)", "/tmp/a b", "/tmp/a'b", "/tmp/a\\b", "/tmp/é"] {
            let dir = Cluster::new(odd).socket_dir();
            let text = dir.to_string_lossy().into_owned();
            assert!(text.starts_with("/tmp/todo-"), "{odd}: {text}");
            assert_eq!(text.len(), "/tmp/todo-".len() + 16);
        }
        let long = Cluster::new(format!("/tmp/{}", "x".repeat(90)));
        assert!(long
            .socket_dir()
            .to_string_lossy()
            .starts_with("/tmp/todo-"));
    }
}
