//! A backup's gzip stream: one member and nothing after it (SPEC §17),
//! written by [`Writer`] and read by [`OneMember`].
//!
//! The member is decompressed by flate2's single-member decoder, which
//! checks the member's CRC and length at its end and takes no byte beyond
//! it from the file; anything left in the file then is data after the
//! backup, whatever it is (a second member, text appended by accident, a
//! few bytes of padding), and reading fails with [`is_trailing_data`].

use std::io::{self, BufRead, Read, Write};

use flate2::bufread::GzDecoder;
use flate2::{Compress, Compression, FlushCompress, Status};

/// Writes one gzip member at the fastest level. A large write (a backup's
/// ordered rows) is split between threads, each compressing its part with
/// a compressor of its own and ending it on a byte boundary (a sync
/// flush), as pigz does: the parts, in order, are one deflate stream
/// (a part refers to nothing before it, so the window the reader keeps
/// does not matter), with one CRC and length over all of it at the end.
pub struct Writer<W: Write> {
    inner: W,
    compress: Compress,
    crc: crc32fast::Hasher,
    /// The data's length, modulo 2^32 (gzip's ISIZE).
    size: u32,
    /// The compressor's output buffer, initialized once (flate2 zeroes a
    /// `Vec`'s spare room on every call otherwise: a third of a backup's
    /// CPU, measured).
    buf: Box<[u8]>,
    /// How many threads a large write is split between.
    threads: usize,
}

/// The gzip header: deflate, no name or time, unknown system.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// Writes at least this large are split between threads.
const PARALLEL_MIN: usize = 1 << 20;

/// The size of a compressor's output buffer.
const BUF: usize = 1 << 16;

impl<W: Write> Writer<W> {
    pub fn new(mut inner: W) -> io::Result<Writer<W>> {
        inner.write_all(&HEADER)?;
        Ok(Writer {
            inner,
            compress: Compress::new(Compression::fast(), false),
            crc: crc32fast::Hasher::new(),
            size: 0,
            buf: vec![0; BUF].into_boxed_slice(),
            // Asked once: on Linux it reads the cgroup's CPU quota.
            threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(4)),
        })
    }

    /// The writer underneath.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// Ends the member (its last block, CRC and length) and returns the
    /// writer underneath.
    pub fn finish(mut self) -> io::Result<W> {
        self.deflate(&[], FlushCompress::Finish)?;
        self.inner
            .write_all(&self.crc.clone().finalize().to_le_bytes())?;
        self.inner.write_all(&self.size.to_le_bytes())?;
        Ok(self.inner)
    }

    /// `data` through the writer's own compressor, out to `inner`.
    fn deflate(&mut self, data: &[u8], flush: FlushCompress) -> io::Result<()> {
        let inner = &mut self.inner;
        deflate(&mut self.compress, data, flush, &mut self.buf, &mut |out| {
            inner.write_all(out)
        })
    }

    /// `data` compressed in parts, one on each of the writer's threads
    /// (see [`Writer`]).
    fn parallel(&mut self, data: &[u8]) -> io::Result<()> {
        // What the compressor holds goes first, ending on a byte boundary.
        self.deflate(&[], FlushCompress::Sync)?;
        let part = data.len().div_ceil(self.threads);
        let parts: Vec<io::Result<Vec<u8>>> =
            std::thread::scope(|scope| {
                let mut chunks = data.chunks(part);
                let first = chunks.next().unwrap_or_default();
                let others: Vec<_> = chunks
                    .map(|chunk| scope.spawn(move || compress_part(chunk)))
                    .collect();
                let mut parts = vec![compress_part(first)];
                for other in others {
                    parts.push(other.join().unwrap_or_else(|_| {
                        Err(io::Error::other("a compression thread panicked"))
                    }));
                }
                parts
            });
        for part in parts {
            self.inner.write_all(&part?)?;
        }
        // Later data must not refer back past the parts.
        self.compress.reset();
        Ok(())
    }
}

/// One part of a parallel write, compressed on its own and ending on a
/// byte boundary.
fn compress_part(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() / 3 + 64);
    let mut compress = Compress::new(Compression::fast(), false);
    let mut buf = vec![0; BUF];
    deflate(
        &mut compress,
        data,
        FlushCompress::Sync,
        &mut buf,
        &mut |o| {
            out.extend_from_slice(o);
            Ok(())
        },
    )?;
    Ok(out)
}

/// Compresses all of `input` with `flush` through `buf`, handing each
/// piece of output to `sink`.
fn deflate(
    compress: &mut Compress,
    mut input: &[u8],
    flush: FlushCompress,
    buf: &mut [u8],
    sink: &mut dyn FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    loop {
        let (before_in, before_out) = (compress.total_in(), compress.total_out());
        let status = compress
            .compress(input, buf, flush)
            .map_err(io::Error::other)?;
        input = &input[(compress.total_in() - before_in) as usize..];
        let produced = (compress.total_out() - before_out) as usize;
        if produced > 0 {
            sink(&buf[..produced])?;
        }
        match status {
            Status::StreamEnd => return Ok(()),
            // Done when all of the input is in and the output did not fill
            // the buffer (nothing of the flush is left to come).
            _ if input.is_empty()
                && produced < buf.len()
                && !matches!(flush, FlushCompress::Finish) =>
            {
                return Ok(())
            }
            _ => {}
        }
    }
}

impl<W: Write> Write for Writer<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.len() >= PARALLEL_MIN && self.threads > 1 {
            self.parallel(data)?;
        } else {
            self.deflate(data, FlushCompress::None)?;
        }
        self.crc.update(data);
        self.size = self.size.wrapping_add(data.len() as u32);
        Ok(data.len())
    }

    /// Everything written so far, compressed and passed on (a sync flush).
    fn flush(&mut self) -> io::Result<()> {
        self.deflate(&[], FlushCompress::Sync)?;
        self.inner.flush()
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

    /// Text that compresses (repeats) but not to nothing (a counter).
    fn rows(n: usize) -> Vec<u8> {
        (0..n)
            .flat_map(|i| format!("{i}\tRead two chapters\t\\N\tf\tuser-{}\n", i % 97).into_bytes())
            .collect()
    }

    #[test]
    fn the_writer_gives_one_member_that_reads_back_whole() {
        let big = rows(60_000);
        assert!(big.len() > 2 * PARALLEL_MIN);
        // Small writes, a parallel write between them, a flush, and none.
        let mut writer = Writer::new(Vec::new()).unwrap();
        writer.write_all(b"todo-backup 1\n").unwrap();
        writer.write_all(&big).unwrap();
        writer.write_all(b"between\n").unwrap();
        writer.flush().unwrap();
        writer.write_all(&big[..PARALLEL_MIN + 7]).unwrap();
        writer.write_all(b"end\n").unwrap();
        let bytes = writer.finish().unwrap();
        let mut expected = b"todo-backup 1\n".to_vec();
        expected.extend_from_slice(&big);
        expected.extend_from_slice(b"between\n");
        expected.extend_from_slice(&big[..PARALLEL_MIN + 7]);
        expected.extend_from_slice(b"end\n");
        assert_eq!(read_all(&bytes).unwrap(), expected);
        // Compressed, not stored: within a few percent of flate2's own.
        assert!(
            bytes.len() < member(&expected).len() * 105 / 100,
            "{}",
            bytes.len()
        );
        // Other decoders agree (the multi-member one reads one member).
        let mut other = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_end(&mut other)
            .unwrap();
        assert_eq!(other, expected);
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
