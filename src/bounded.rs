//! Reading untrusted input with bounded memory (SPEC §17): a line (of a
//! backup, a CSV or todo.txt file) or a JSON record longer than
//! [`MAX_RECORD`] is refused before it is buffered whole. The longest row
//! the schema allows is about 6 KiB of COPY text (255-character title,
//! id and email, 1 000-character description, 4 bytes a character at
//! most), so the limit only ever stops a damaged or hostile file.

use std::cell::Cell;
use std::io::{self, BufRead, Read};

/// The longest line or record read: 1 MiB.
pub const MAX_RECORD: usize = 1 << 20;

/// The error for a record over the limit.
pub fn too_long() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("a line or record is longer than {} MiB", MAX_RECORD >> 20),
    )
}

/// `read_until(b'\n')` that reads at most [`MAX_RECORD`] bytes: a longer
/// line is an error (nothing more of it is read).
pub fn read_line(input: &mut dyn BufRead, buf: &mut Vec<u8>) -> io::Result<usize> {
    let n = input.take(MAX_RECORD as u64 + 1).read_until(b'\n', buf)?;
    if n > MAX_RECORD {
        return Err(too_long());
    }
    Ok(n)
}

/// [`read_line`] into a `String` (invalid UTF-8 is an error, as with
/// `read_line`).
pub fn read_line_string(input: &mut dyn BufRead, buf: &mut String) -> io::Result<usize> {
    let n = input.take(MAX_RECORD as u64 + 1).read_line(buf)?;
    if n > MAX_RECORD {
        return Err(too_long());
    }
    Ok(n)
}

/// A reader that fails once more than [`MAX_RECORD`] bytes were read
/// since the reader of its records last called [`Budget::reset`] (for a
/// JSON array read element by element).
pub struct Limited<'a, R> {
    inner: R,
    budget: &'a Budget,
}

/// The bytes read since the current record started.
#[derive(Default)]
pub struct Budget(Cell<usize>);

impl Budget {
    /// A record ended: the next one starts with the whole limit.
    pub fn reset(&self) {
        self.0.set(0);
    }
}

impl<'a, R> Limited<'a, R> {
    pub fn new(inner: R, budget: &'a Budget) -> Self {
        Limited { inner, budget }
    }
}

impl<R: Read> Read for Limited<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let used = self.budget.0.get();
        if used > MAX_RECORD {
            return Err(too_long());
        }
        let room = (MAX_RECORD + 1 - used).min(buf.len());
        let n = self.inner.read(&mut buf[..room])?;
        self.budget.0.set(used + n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_refused_short_ones_read() {
        let mut buf = Vec::new();
        let mut input: &[u8] = b"short\nrest";
        assert_eq!(read_line(&mut input, &mut buf).unwrap(), 6);
        let long = vec![b'x'; MAX_RECORD + 10];
        buf.clear();
        let err = read_line(&mut long.as_slice(), &mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(buf.len() <= MAX_RECORD + 1);
    }

    #[test]
    fn the_budget_bounds_each_record() {
        let budget = Budget::default();
        let data = vec![b'x'; MAX_RECORD * 3];
        let mut r = Limited::new(data.as_slice(), &budget);
        let mut chunk = vec![0; MAX_RECORD / 2];
        r.read_exact(&mut chunk).unwrap();
        budget.reset();
        r.read_exact(&mut chunk).unwrap();
        r.read_exact(&mut chunk).unwrap();
        let mut rest = Vec::new();
        assert!(r.read_to_end(&mut rest).is_err());
    }
}
