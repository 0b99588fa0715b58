//! Mails that carry a single-use link (confirmation, password reset). The token is issued
//! and the mail queued in the caller's transaction, so both exist or neither does.

use super::error::ServiceError;
use super::services::Services;
use super::user_tokens::Purpose;
use crate::db::models::User;
use crate::db::DbConnection;
use crate::mail;

/// The links mailed to the account's own address for its own sake. (A change of address
/// mails its links from [`super::change_email`]: they carry an address of their own.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailedLink {
    Confirm,
    Reset,
}

impl MailedLink {
    pub fn purpose(self) -> Purpose {
        match self {
            MailedLink::Confirm => Purpose::Confirm,
            MailedLink::Reset => Purpose::Reset,
        }
    }
}

/// Issues a token of `link`'s purpose for `user`, valid for that purpose's configured
/// lifetime.
pub fn issue_link_token(
    conn: &mut DbConnection,
    services: &Services,
    user: &User,
    link: MailedLink,
) -> Result<String, ServiceError> {
    let settings = &services.settings;
    let lifetime = match link {
        MailedLink::Confirm => settings.confirm_email_within,
        MailedLink::Reset => settings.reset_password_within,
    };
    Ok(services
        .tokens
        .issue(conn, user, link.purpose(), lifetime)?)
}

/// Issues a token and queues the instructions mail that carries its link, to `user`'s
/// address.
pub fn queue_link_mail(
    conn: &mut DbConnection,
    services: &Services,
    user: &User,
    link: MailedLink,
) -> Result<(), ServiceError> {
    queue_link_mail_to(conn, services, user, link, user.email_or_empty())
}

/// [`queue_link_mail`] to another address than the account's current one (a reset link to
/// the address a change of email replaced).
pub fn queue_link_mail_to(
    conn: &mut DbConnection,
    services: &Services,
    user: &User,
    link: MailedLink,
    to: &str,
) -> Result<(), ServiceError> {
    let token = issue_link_token(conn, services, user, link)?;
    let mailer = services.mailer();
    let message = match link {
        MailedLink::Confirm => mailer.confirmation_instructions(to, &token)?,
        MailedLink::Reset => mailer.reset_instructions(to, &token)?,
    };
    mail::enqueue(conn, &services.outbox_key, &message)?;
    Ok(())
}
