//! A backup's gzip stream: one member and nothing after it (SPEC §17),
//! written by [`Writer`] and read by [`OneMember`].
//!
//! The member is decompressed by flate2's single-member decoder, which
//! checks the member's CRC and length at its end and takes no byte beyond
//! it from the file; anything left in the file then is data after the
//! backup, whatever it is (a second member, text appended by accident, a
//! few bytes of padding), and reading fails with [`is_trailing_data`].

use std::io::{self, BufRead, BufWriter, Read, Write};

use flate2::bufread::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

/// Writes one gzip member at level 2, through flate2's encoder (its
/// zlib-rs backend): zlib-rs's level 1 uses fixed Huffman codes only and
/// writes files a third larger for a third less time (measured on a
/// backup of 1 M tasks: 37.3 MB in 0.76 s at level 1, 27.5 MB in 1.18 s
/// at level 2, 23.3 MB in 2.28 s at 6, gzip's default). Small writes (a
/// purge archive's rows, one at a time) are gathered first: flate2
/// prepares its whole output buffer on every write, which costs more than
/// the compression of a short line.
///
/// One thread: an earlier hand-made parallel writer (pigz-style parts)
/// lost compressed output at its part boundaries and wrote backups that
/// could not be restored, with exit 0 (issue 43). zlib-rs on one core
/// keeps `db backup` well under `pg_dump`'s time (docs/performance.md).
pub struct Writer<W: Write> {
    gz: BufWriter<GzEncoder<W>>,
}

/// The compression level (see [`Writer`]).
const LEVEL: Compression = Compression::new(2);

/// How many bytes of small writes are gathered before they are compressed.
const GATHER: usize = 256 << 10;

impl<W: Write> Writer<W> {
    /// Starts the member: its header (no name, no time) goes to `inner`.
    pub fn new(inner: W) -> io::Result<Writer<W>> {
        let mut gz = GzEncoder::new(inner, LEVEL);
        // The header now, so that a file that cannot be written fails here.
        gz.flush()?;
        Ok(Writer {
            gz: BufWriter::with_capacity(GATHER, gz),
        })
    }

    /// The writer underneath.
    pub fn get_ref(&self) -> &W {
        self.gz.get_ref().get_ref()
    }

    /// Ends the member (its last block, CRC and length) and returns the
    /// writer underneath.
    pub fn finish(self) -> io::Result<W> {
        self.gz.into_inner().map_err(|e| e.into_error())?.finish()
    }
}

impl<W: Write> Write for Writer<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.gz.write(data)
    }

    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.gz.write_all(data)
    }

    /// Everything written so far, compressed and passed on (a sync flush:
    /// a reader decodes all of it before the member ends).
    fn flush(&mut self) -> io::Result<()> {
        self.gz.flush()
    }
}

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

    /// A small deterministic generator (xorshift64*), so that a failing
    /// case can be replayed from its seed.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// `n` bytes of one of the kinds a compressor treats differently:
    /// backup-like rows (repeats, not to nothing), random bytes (stored
    /// blocks), long runs, and text with long-distance matches.
    fn data(rng: &mut Rng, kind: u64, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n);
        match kind {
            0 => {
                // Rows as COPY writes them, drawn from a pool of varied
                // lines (cheaper than formatting each).
                let pool: Vec<String> = (0..4096)
                    .map(|_| {
                        let i = rng.next();
                        format!(
                            "{}\tRead chapter {} of {}\t\\N\t{}\tuser-{:x}\t2026-01-{:02} {:02}:{:02}:00\n",
                            i % 10_000_000,
                            i % 31,
                            (i >> 8) % 977,
                            if i.is_multiple_of(3) { 't' } else { 'f' },
                            (i >> 20) % 5000,
                            1 + i % 28,
                            (i >> 30) % 24,
                            (i >> 40) % 60
                        )
                    })
                    .collect();
                while out.len() < n {
                    out.extend_from_slice(pool[rng.below(4096) as usize].as_bytes());
                }
            }
            1 => out.extend((0..n).map(|_| rng.next() as u8)),
            2 => {
                while out.len() < n {
                    let byte = rng.next() as u8;
                    let run = 1 + rng.below(70_000) as usize;
                    out.extend(std::iter::repeat_n(byte, run));
                }
            }
            _ => {
                let seed: Vec<u8> = (0..4096).map(|_| b'a' + rng.below(26) as u8).collect();
                while out.len() < n {
                    let at = rng.below(4000) as usize;
                    out.extend_from_slice(&seed[at..at + 1 + rng.below(96) as usize]);
                    out.push(rng.next() as u8);
                }
            }
        }
        out.truncate(n);
        out
    }

    /// Property: whatever the data and however it is cut into writes and
    /// flushes (empty writes, single bytes, several megabytes at once),
    /// the file is one gzip member that decodes to exactly what was
    /// written, by this module's reader, flate2's multi-member reader and
    /// the system's `gzip -t`.
    #[test]
    fn any_writes_give_one_member_that_reads_back_whole() {
        for seed in 1..=24u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let mut writer = Writer::new(Vec::new()).unwrap();
            let mut expected = Vec::new();
            for _ in 0..1 + rng.below(12) {
                let size = match rng.below(5) {
                    0 => rng.below(2) as usize,
                    1 => rng.below(200) as usize,
                    2 => rng.below(300_000) as usize,
                    // Mostly the large writes of a backup's ordered rows.
                    _ => (1 << 20) + rng.below(3 << 20) as usize,
                };
                let kind = if rng.below(3) == 0 { rng.below(4) } else { 0 };
                let chunk = data(&mut rng, kind, size);
                // Written as one call, or cut into pieces of random sizes.
                if rng.below(2) == 0 {
                    writer.write_all(&chunk).unwrap();
                } else {
                    let mut rest = &chunk[..];
                    while !rest.is_empty() {
                        let k = (1 + rng.below(300_000) as usize).min(rest.len());
                        writer.write_all(&rest[..k]).unwrap();
                        rest = &rest[k..];
                    }
                }
                expected.extend_from_slice(&chunk);
                if rng.below(3) == 0 {
                    writer.flush().unwrap();
                }
            }
            let bytes = writer.finish().unwrap();
            let back = read_all(&bytes).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            assert!(back == expected, "seed {seed}: decoded data differ");
            let mut other = Vec::new();
            flate2::read::MultiGzDecoder::new(&bytes[..])
                .read_to_end(&mut other)
                .unwrap();
            assert!(other == expected, "seed {seed}: flate2's reader differs");
            gzip_test(&bytes, seed);
        }
    }

    /// `gzip -t` on `bytes`: the system's decoder accepts the file whole.
    fn gzip_test(bytes: &[u8], seed: u64) {
        use std::process::{Command, Stdio};
        let mut gzip = Command::new("gzip")
            .arg("-t")
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("gzip (the system's, package gzip) runs");
        let mut stdin = gzip.stdin.take().unwrap();
        let feed = std::thread::scope(|s| {
            let feeder = s.spawn(move || stdin.write_all(bytes));
            let out = gzip.wait_with_output().unwrap();
            (feeder.join().unwrap(), out)
        });
        let (fed, out) = feed;
        assert!(
            out.status.success() && fed.is_ok(),
            "seed {seed}: gzip -t: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn a_flush_makes_everything_so_far_readable() {
        // A purge archive interrupted after a flush keeps every row.
        let mut writer = Writer::new(Vec::new()).unwrap();
        writer.write_all(b"row 1\n").unwrap();
        writer.write_all(&data(&mut Rng(7), 0, 3 << 20)).unwrap();
        writer.write_all(b"row 2\n").unwrap();
        writer.flush().unwrap();
        let cut = writer.get_ref().clone();
        let mut out = Vec::new();
        let err = flate2::read::GzDecoder::new(&cut[..])
            .read_to_end(&mut out)
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(out.ends_with(b"row 2\n"), "{} bytes read", out.len());
        assert_eq!(out.len(), 6 + (3 << 20) + 6);
    }

    #[test]
    fn the_writer_compresses() {
        let rows = data(&mut Rng(3), 0, 4 << 20);
        let mut writer = Writer::new(Vec::new()).unwrap();
        for line in rows.split_inclusive(|&b| b == b'\n') {
            writer.write_all(line).unwrap();
        }
        let bytes = writer.finish().unwrap();
        // As small as flate2's own member of the same rows, within a few
        // percent, and well under the rows themselves.
        assert!(
            bytes.len() < member(&rows).len() * 105 / 100,
            "{}",
            bytes.len()
        );
        assert!(bytes.len() < rows.len() / 3, "{}", bytes.len());
        let empty = Writer::new(Vec::new()).unwrap().finish().unwrap();
        assert_eq!(read_all(&empty).unwrap(), b"");
    }

    #[test]
    fn a_cut_member_is_not_trailing_data() {
        let bytes = member(b"rows\n");
        let err = read_all(&bytes[..bytes.len() - 3]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(!is_trailing_data(&err));
    }
}
