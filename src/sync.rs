//! Small helpers for the standard library's locks.

use std::sync::{Mutex, MutexGuard};

/// Locks `mutex` even if a thread panicked while holding it. For locks that guard only
/// plain data kept consistent between statements (queues, byte buffers): a panic elsewhere
/// must not take logging or database lookups down with it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
