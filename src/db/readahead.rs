//! Read-ahead for COPY FROM: the rows are produced (a backup decompressed,
//! split into lines and checksummed) on a thread of their own while this
//! thread hands the previous chunks to the server.
//!
//! Measured 2026-12-03 (`db restore` of 1 M tasks, server statement log):
//! with the reading in line with the sending, the tasks' COPY took
//! 2.5–2.9 s; with every row read into memory first, the server needed
//! 1.7–1.9 s of it. The socket's own buffer (about 200 KB) is too shallow
//! to keep the server busy while the client decompresses; a queue of
//! [`DEPTH`] chunks of [`CHUNK`] bytes is, at a bounded memory cost
//! (about 2 MB).

use std::io::{self, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// Bytes per chunk handed from the producer to the sender.
pub const CHUNK: usize = 256 * 1024;
/// Chunks the producer may be ahead.
pub const DEPTH: usize = 8;

/// Runs `produce` on a scoped thread, writing into chunks that this thread
/// writes to `sink` as they come, calling `after_chunk` after each. Returns
/// what `produce` returned and how writing to `sink` went. When `sink`
/// fails, the producer's next write fails too (with `BrokenPipe`), so it
/// stops early.
pub fn pipe<T: Send>(
    produce: impl FnOnce(&mut dyn Write) -> T + Send,
    sink: &mut dyn Write,
    mut after_chunk: impl FnMut(),
) -> (T, io::Result<()>) {
    let (tx, rx) = sync_channel::<Vec<u8>>(DEPTH);
    std::thread::scope(|scope| {
        let producer = scope.spawn(move || {
            let mut out = ChunkWriter {
                buf: Vec::with_capacity(CHUNK),
                tx,
            };
            let produced = produce(&mut out);
            // The last, partial chunk (an error here is the sink's,
            // reported below).
            let _ = out.send();
            produced
        });
        let sent = drain(rx, sink, &mut after_chunk);
        let produced = match producer.join() {
            Ok(produced) => produced,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        (produced, sent)
    })
}

/// Writes every chunk to `sink`; on the first error stops, dropping the
/// receiver (which fails the producer's next send).
fn drain(
    rx: Receiver<Vec<u8>>,
    sink: &mut dyn Write,
    after_chunk: &mut dyn FnMut(),
) -> io::Result<()> {
    for chunk in rx {
        sink.write_all(&chunk)?;
        after_chunk();
    }
    sink.flush()
}

struct ChunkWriter {
    buf: Vec<u8>,
    tx: SyncSender<Vec<u8>>,
}

impl ChunkWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx
            .send(full)
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_arrives_in_order() {
        let data: Vec<u8> = (0..3 * CHUNK + 17).map(|i| (i % 251) as u8).collect();
        let mut sink = Vec::new();
        let mut chunks = 0;
        let (produced, sent) = pipe(
            |out| {
                for piece in data.chunks(1000) {
                    out.write_all(piece).unwrap();
                }
                7
            },
            &mut sink,
            || chunks += 1,
        );
        assert_eq!(produced, 7);
        sent.unwrap();
        assert_eq!(sink, data);
        // Chunks of 263 writes (the first write to reach CHUNK bytes sends
        // it): two full ones and the rest.
        assert_eq!(chunks, 3);
    }

    /// A sink that fails stops the producer instead of leaving it blocked.
    #[test]
    fn a_failing_sink_stops_the_producer() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("server went away"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let (produced, sent) = pipe(
            |out| {
                // Far more than the queue holds: only a failed write ends it.
                for _ in 0..100 * DEPTH {
                    out.write_all(&[0u8; CHUNK])?;
                }
                Ok::<(), io::Error>(())
            },
            &mut Full,
            || {},
        );
        assert_eq!(produced.unwrap_err().kind(), io::ErrorKind::BrokenPipe);
        assert_eq!(sent.unwrap_err().to_string(), "server went away");
    }
}
