//! Mails that carry a single-use link (confirmation, password reset). The token is issued
//! and the mail queued in the caller's transaction, so both exist or neither does.

use super::error::ServiceError;
use super::services::Services;
use super::user_tokens::Purpose;
use crate::db::models::User;
use crate::db::DbConnection;
use crate::mail;

/// Issues a `purpose` token for `user`, valid for that purpose's configured lifetime.
pub fn issue_link_token(
    conn: &mut DbConnection,
    services: &Services,
    user: &User,
    purpose: Purpose,
) -> Result<String, ServiceError> {
    let settings = &services.settings;
    let lifetime = match purpose {
        Purpose::Confirm => settings.confirm_email_within,
        Purpose::Reset => settings.reset_password_within,
    };
    Ok(services.tokens.issue(conn, user, purpose, lifetime)?)
}

/// Issues a token and queues the instructions mail that carries its link.
pub fn queue_link_mail(
    conn: &mut DbConnection,
    services: &Services,
    user: &User,
    purpose: Purpose,
) -> Result<(), ServiceError> {
    let token = issue_link_token(conn, services, user, purpose)?;
    let mailer = services.mailer();
    let email = user.email_or_empty();
    let message = match purpose {
        Purpose::Confirm => mailer.confirmation_instructions(email, &token)?,
        Purpose::Reset => mailer.reset_instructions(email, &token)?,
    };
    mail::enqueue(conn, &services.outbox_key, &message)?;
    Ok(())
}
