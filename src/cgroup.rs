//! The memory limit of the cgroup this process runs in (a container's),
//! so that work which may hold memory (a backup's ordering) stays inside
//! it.

/// The memory limit of the cgroup this process runs in, when one is set:
/// the smallest of its own and its ancestors' (cgroup v2's `memory.max`,
/// v1's `memory.limit_in_bytes`), found through `/proc/self/cgroup`.
/// None without a limit, or on a system without cgroups.
pub fn memory_limit() -> Option<u64> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let mut files = Vec::new();
    for line in cgroups.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let (root, file) = match controllers {
            "" => ("/sys/fs/cgroup", "memory.max"),
            c if c.split(',').any(|c| c == "memory") => {
                ("/sys/fs/cgroup/memory", "memory.limit_in_bytes")
            }
            _ => continue,
        };
        let mut dir = std::path::PathBuf::from(root);
        files.push(dir.join(file));
        for part in path.split('/').filter(|p| !p.is_empty()) {
            dir.push(part);
            files.push(dir.join(file));
        }
    }
    files
        .iter()
        .filter_map(|f| parse_limit(&std::fs::read_to_string(f).ok()?))
        .min()
}

/// A cgroup memory file's value: bytes, or "max" for none.
pub(crate) fn parse_limit(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_is_a_number_and_max_is_none() {
        assert_eq!(parse_limit("536870912\n"), Some(512 << 20));
        assert_eq!(parse_limit("max\n"), None);
        assert_eq!(parse_limit(""), None);
    }
}
