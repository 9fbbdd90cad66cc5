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
        Ok(meta) if meta.is_dir() => {
            Err(Error::usage(format!("{name} is a directory")).with_hint("name a file in it"))
        }
        _ => Ok(file),
    }
}
