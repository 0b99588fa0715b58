//! Delivers the outbox. (Placeholder: the delivering worker is being written.)

/// Tells the worker that a message is waiting (no-op until the worker exists).
pub fn wake() {}
