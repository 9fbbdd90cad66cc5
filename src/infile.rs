//! Files the tool reads user data from (`db restore`, `db verify`, `task
//! import`): opened with errors that name the file and say what is wrong
//! with it (exit 2), before anything looks at its content. A directory is
//! said to be one: Linux opens it, and its first read (EISDIR) would
//! otherwise surface as "not a todo backup" or an unknown format.

use std::fs::File;
use std::path::Path;

use crate::error::{Error, Result};

/// Opens `path` for reading; a directory or a file that cannot be opened
/// is a usage error naming it.
pub fn open(path: &Path) -> Result<File> {
    let name = path.display();
    let file = File::open(path).map_err(|e| Error::usage(format!("cannot read {name}: {e}")))?;
    match file.metadata() {
        Ok(meta) if meta.is_dir() => Err(is_a_directory(path)),
        _ => Ok(file),
    }
}

/// A directory named where a file to read or write was wanted (exit 2).
pub fn is_a_directory(path: &Path) -> Error {
    Error::usage(format!("{} is a directory", path.display())).with_hint("name a file in it")
}

/// Opens `path`, or standard input for `-` (`todo db backup -o - | ssh
/// host todo db restore -`). A terminal as standard input is refused
/// (exit 2), as `gzip -d` refuses one: a backup is compressed bytes, not
/// something typed.
pub fn open_or_stdin(path: &Path) -> Result<File> {
    use std::io::IsTerminal;
    if path != Path::new("-") {
        return open(path);
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(Error::usage("standard input is a terminal, not a backup")
            .with_hint("pipe one in (todo db backup -o - | todo db restore -) or name the file"));
    }
    let fd = std::os::fd::AsFd::as_fd(&stdin)
        .try_clone_to_owned()
        .map_err(|e| Error::usage(format!("cannot read stdin: {e}")))?;
    Ok(File::from(fd))
}

/// How messages name an input: `standard input` for `-`.
pub fn shown(path: &Path) -> std::borrow::Cow<'_, str> {
    if path == Path::new("-") {
        "standard input".into()
    } else {
        path.to_string_lossy()
    }
}
