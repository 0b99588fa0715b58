//! The server's log output: lines are formatted on the thread that logs them and written by
//! one dedicated thread, in batches. A logging thread only appends to a buffer; the writer
//! is woken by the first line of a batch, lets more lines gather for a moment, then writes
//! them all with one call. Under load that is a few wake-ups and writes per second instead
//! of one per line (a wake-up and a system call per request cost a tenth of a cheap page's
//! throughput on two cores).
//!
//! Nothing is dropped: when the writer falls behind by [`BatchWriter::spawn`]'s `max_pending`
//! bytes, loggers wait for it. Lines logged after the guard is dropped are written directly.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::sync::lock;

/// How long the writer lets lines gather after the first one of a batch: the most a line
/// waits before it is written (and what a SIGKILL can lose).
const GATHER: Duration = Duration::from_millis(10);

type Output = Box<dyn Write + Send>;

struct Shared {
    state: Mutex<State>,
    /// Wakes the writer: the first line of a batch, or shutdown.
    wake_writer: Condvar,
    /// Wakes loggers that wait for room in the buffer.
    room: Condvar,
    max_pending: usize,
    output: Mutex<Output>,
}

#[derive(Default)]
struct State {
    pending: Vec<u8>,
    writer_waiting: bool,
    closed: bool,
}

/// A `MakeWriter` for `tracing_subscriber`; see the module comment.
#[derive(Clone)]
pub struct BatchWriter {
    shared: Arc<Shared>,
}

/// Keep it until exit: dropping it writes what is pending and stops the writer thread.
#[must_use = "dropping the guard stops the log writer"]
pub struct BatchWriterGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl BatchWriter {
    /// Starts the writer thread for `output`; at most `max_pending` bytes wait in memory.
    pub fn spawn(
        output: impl Write + Send + 'static,
        max_pending: usize,
    ) -> io::Result<(BatchWriter, BatchWriterGuard)> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake_writer: Condvar::new(),
            room: Condvar::new(),
            max_pending,
            output: Mutex::new(Box::new(output)),
        });
        let for_thread = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("log-writer".to_owned())
            .spawn(move || write_batches(&for_thread))?;
        Ok((
            BatchWriter {
                shared: Arc::clone(&shared),
            },
            BatchWriterGuard {
                shared,
                thread: Some(thread),
            },
        ))
    }

    fn append(&self, buf: &[u8]) -> io::Result<()> {
        let shared = &*self.shared;
        let mut state = lock(&shared.state);
        while !state.closed
            && !state.pending.is_empty()
            && state.pending.len() >= shared.max_pending
        {
            state = shared
                .room
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        if state.closed {
            drop(state);
            return lock(&shared.output).write_all(buf);
        }
        state.pending.extend_from_slice(buf);
        let wake = std::mem::take(&mut state.writer_waiting);
        drop(state);
        if wake {
            shared.wake_writer.notify_one();
        }
        Ok(())
    }
}

fn write_batches(shared: &Shared) {
    let mut batch = Vec::new();
    loop {
        let closed = {
            let mut state = lock(&shared.state);
            while state.pending.is_empty() && !state.closed {
                state.writer_waiting = true;
                state = shared
                    .wake_writer
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            state.closed
        };
        if !closed {
            // Loggers append meanwhile without waking anyone.
            std::thread::sleep(GATHER);
        }
        let closed = {
            let mut state = lock(&shared.state);
            std::mem::swap(&mut batch, &mut state.pending);
            state.closed
        };
        shared.room.notify_all();
        {
            let mut output = lock(&shared.output);
            // Nowhere to report a failing log output; the lines are gone either way.
            let _ = output.write_all(&batch);
            let _ = output.flush();
        }
        batch.clear();
        // A burst may have grown the buffer: do not keep megabytes for good.
        batch.shrink_to(64 * 1024);
        if closed && lock(&shared.state).pending.is_empty() {
            return;
        }
    }
}

impl Drop for BatchWriterGuard {
    fn drop(&mut self) {
        lock(&self.shared.state).closed = true;
        self.shared.wake_writer.notify_one();
        self.shared.room.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Write for &BatchWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.append(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BatchWriter {
    type Writer = &'a BatchWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output whose bytes the test can read, optionally slow.
    #[derive(Clone, Default)]
    struct Sink {
        bytes: Arc<Mutex<Vec<u8>>>,
        writes: Arc<Mutex<usize>>,
        delay: Duration,
    }

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            std::thread::sleep(self.delay);
            *lock(&self.writes) += 1;
            lock(&self.bytes).extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn lines(sink: &Sink) -> Vec<String> {
        String::from_utf8(lock(&sink.bytes).clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn every_line_from_every_thread_arrives_whole_and_in_order() {
        let sink = Sink::default();
        let (writer, guard) = BatchWriter::spawn(sink.clone(), 1 << 20).unwrap();
        std::thread::scope(|s| {
            for t in 0..4 {
                let writer = &writer;
                s.spawn(move || {
                    for i in 0..2000 {
                        // One write per line, as tracing's formatter does.
                        writer
                            .append(format!("thread {t} line {i}\n").as_bytes())
                            .unwrap();
                    }
                });
            }
        });
        drop(guard);
        let lines = lines(&sink);
        assert_eq!(lines.len(), 8000);
        for t in 0..4 {
            let own: Vec<&String> = lines
                .iter()
                .filter(|l| l.starts_with(&format!("thread {t} ")))
                .collect();
            let in_order = own
                .iter()
                .enumerate()
                .all(|(i, line)| **line == format!("thread {t} line {i}"));
            assert!(
                own.len() == 2000 && in_order,
                "thread {t}: lines lost or reordered"
            );
        }
        // Batched: far fewer writes than lines.
        assert!(
            *lock(&sink.writes) < 8000 / 10,
            "{} writes",
            *lock(&sink.writes)
        );
    }

    #[test]
    fn a_slow_output_makes_loggers_wait_instead_of_dropping_lines() {
        let sink = Sink {
            delay: Duration::from_millis(20),
            ..Sink::default()
        };
        // Room for about two lines: loggers must wait for the writer again and again.
        let (writer, guard) = BatchWriter::spawn(sink.clone(), 40).unwrap();
        for i in 0..50 {
            (&writer)
                .write_all(format!("line {i:04}\n").as_bytes())
                .unwrap();
            assert!(lock(&writer.shared.state).pending.len() <= 40 + 10);
        }
        drop(guard);
        let expected: Vec<String> = (0..50).map(|i| format!("line {i:04}")).collect();
        assert_eq!(lines(&sink), expected);
    }

    #[test]
    fn lines_logged_after_the_guard_is_dropped_are_written_directly() {
        let sink = Sink::default();
        let (writer, guard) = BatchWriter::spawn(sink.clone(), 1 << 20).unwrap();
        (&writer).write_all(b"before\n").unwrap();
        drop(guard);
        (&writer).write_all(b"after\n").unwrap();
        assert_eq!(lines(&sink), ["before", "after"]);
    }
}
