//! Outgoing mail. Flows never talk to SMTP: they [`enqueue`] a composed [`Message`] into the
//! `mail_outbox` table inside the transaction of the change that caused it, and the
//! background [`worker`] delivers it (with retries) through the configured transport.

pub mod message;
pub mod messages;
pub mod seal;
pub mod worker;

pub use message::{compose, Message};
pub use messages::{Mailer, NoticeDetails};
pub use seal::OutboxKey;

use diesel::prelude::*;

use crate::db::schema::mail_outbox;
use crate::db::{self, DbConnection, DbError};

/// Queues `message` for delivery, its bodies sealed with `key` (see [`seal`]). Call it
/// inside the transaction of the change that causes the mail, so that both happen or
/// neither does.
pub fn enqueue(conn: &mut DbConnection, key: &OutboxKey, message: &Message) -> Result<(), DbError> {
    let now = db::now();
    diesel::insert_into(mail_outbox::table)
        .values((
            mail_outbox::recipient.eq(&message.to),
            mail_outbox::subject.eq(&message.subject),
            // A part the mail does not have is stored as an empty body.
            mail_outbox::text_body.eq(key.seal(message.text.as_deref().unwrap_or(""))),
            mail_outbox::html_body.eq(key.seal(message.html.as_deref().unwrap_or(""))),
            mail_outbox::created_at.eq(now),
            mail_outbox::attempts.eq(0),
            mail_outbox::next_attempt_at.eq(now),
        ))
        .execute(conn)?;
    worker::wake();
    Ok(())
}
