//! A backup's gzip stream: one member and nothing after it (SPEC §17).
//!
//! The member is decompressed by flate2's single-member decoder, which
//! checks the member's CRC and length at its end and takes no byte beyond
//! it from the file; anything left in the file then is data after the
//! backup, whatever it is (a second member, text appended by accident, a
//! few bytes of padding), and reading fails with [`is_trailing_data`].

use std::io::{self, BufRead, Read};

use flate2::bufread::GzDecoder;

/// Decompresses the one gzip member of `R` and refuses what follows it.
pub struct OneMember<R: BufRead> {
    gz: GzDecoder<R>,
}

impl<R: BufRead> OneMember<R> {
    pub fn new(inner: R) -> OneMember<R> {
        OneMember {
            gz: GzDecoder::new(inner),
        }
    }
}

impl<R: BufRead> Read for OneMember<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.gz.read(buf)?;
        if n == 0 && !buf.is_empty() && !self.gz.get_mut().fill_buf()?.is_empty() {
            return Err(io::Error::other(TrailingData));
        }
        Ok(n)
    }
}

/// The file goes on after its gzip member.
#[derive(Debug)]
struct TrailingData;

impl std::fmt::Display for TrailingData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("data after the end of the gzip stream")
    }
}

impl std::error::Error for TrailingData {}

/// Whether `err` is [`OneMember`]'s refusal of data after the member.
pub fn is_trailing_data(err: &io::Error) -> bool {
    err.get_ref().is_some_and(|e| e.is::<TrailingData>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn member(data: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(data).unwrap();
        gz.finish().unwrap()
    }

    fn read_all(bytes: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        OneMember::new(bytes).read_to_end(&mut out).map(|_| out)
    }

    #[test]
    fn one_member_reads_whole() {
        assert_eq!(read_all(&member(b"rows\n")).unwrap(), b"rows\n");
    }

    #[test]
    fn anything_after_the_member_is_trailing_data() {
        for tail in [&b"\0\0\0\0"[..], b"\n", b"junk appended by accident\n"] {
            let mut bytes = member(b"rows\n");
            bytes.extend_from_slice(tail);
            let err = read_all(&bytes).unwrap_err();
            assert!(is_trailing_data(&err), "{tail:?}: {err}");
        }
        let mut two = member(b"rows\n");
        two.extend(member(b"more\n"));
        assert!(is_trailing_data(&read_all(&two).unwrap_err()));
    }

    #[test]
    fn a_cut_member_is_not_trailing_data() {
        let bytes = member(b"rows\n");
        let err = read_all(&bytes[..bytes.len() - 3]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(!is_trailing_data(&err));
    }
}
