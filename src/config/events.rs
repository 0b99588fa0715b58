//! The hooks' queue and the stored events' lifetime (`SECURITY_EVENT_*`).

use std::time::Duration;

use super::source::{ConfigError, Source};

/// The hooks (security events, `auth::events`): how many may wait for the dispatcher, and how
/// long the stored ones are kept.
#[derive(Debug, Clone)]
pub struct EventSettings {
    /// Events waiting for the dispatcher before new ones are dropped and counted
    /// (`SECURITY_EVENT_QUEUE`, at least 1).
    pub queue: usize,
    /// How long rows of `security_event` are kept (`SECURITY_EVENT_RETENTION`); also how far
    /// back a sign-in's device and address are looked for (new-device notice).
    pub retention: Duration,
}

pub(super) fn events(src: &Source) -> Result<EventSettings, ConfigError> {
    let queue = src.number("SECURITY_EVENT_QUEUE", 1024usize)?;
    if queue == 0 {
        return Err(ConfigError::new(
            "SECURITY_EVENT_QUEUE",
            "must be at least 1 (events beyond it are dropped, never waited for)",
        ));
    }
    Ok(EventSettings {
        queue,
        retention: src.duration("SECURITY_EVENT_RETENTION", "90 days")?,
    })
}
