//! How a queued [`Message`] leaves the process: through SMTP (lettre, async on Tokio, TLS by
//! rustls) or, when `MAIL_SERVER` is not set, through the development transport, which writes
//! each message as an `.eml` file and logs its links so that an account can be confirmed
//! without any mail server.
//!
//! Both transports build the same multipart/alternative (text + HTML) message with
//! `From: MAIL_DEFAULT_SENDER` and `To:` the recipient.

use std::path::{Path, PathBuf};

use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::MailSettings;
use crate::mail::message::Message;

/// A transport could not be set up from the settings (checked once, at start-up).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("MAIL_DEFAULT_SENDER: {value:?} is not a valid email address ({reason})")]
    Sender { value: String, reason: String },
    #[error("MAIL_SERVER: cannot prepare TLS for {server:?}: {reason}")]
    Tls { server: String, reason: String },
}

/// One message could not be delivered. The text is stored in `mail_outbox.last_error`: it
/// holds SMTP replies and I/O errors, never credentials or the message body.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The message cannot be built (e.g. a malformed recipient address): retrying cannot help.
    #[error("cannot build the message: {0}")]
    Message(String),
    /// The SMTP server could not be reached or refused the message.
    #[error("SMTP: {0}")]
    Smtp(String),
    /// The development transport could not write its file.
    #[error("cannot write {path}: {reason}")]
    File { path: String, reason: String },
}

impl SendError {
    /// True when the same message can never be delivered, so retrying it is pointless.
    pub fn is_permanent(&self) -> bool {
        matches!(self, SendError::Message(_))
    }
}

/// Where messages go. Cheap to share behind an `Arc`; SMTP connections are pooled and reused.
pub enum Transport {
    Smtp(SmtpTransport),
    Development(DevelopmentTransport),
}

/// SMTP through lettre's pooled async transport.
pub struct SmtpTransport {
    inner: AsyncSmtpTransport<Tokio1Executor>,
    sender: Mailbox,
    description: String,
}

/// Writes each message to `<outbox_dir>/<timestamp>-<random>.eml`.
pub struct DevelopmentTransport {
    dir: PathBuf,
    sender: Mailbox,
    log_links: bool,
}

impl Transport {
    /// Chooses and prepares the transport: `server == None` selects the development
    /// transport; otherwise SMTP, plain unless `use_tls` (STARTTLS, required) or `use_ssl`
    /// (implicit TLS), with credentials when both username and password are set.
    ///
    /// Must be called inside a Tokio runtime: the SMTP connection pool starts a cleanup task.
    /// Nothing is connected here; an unreachable server shows up as delivery failures.
    pub fn from_settings(settings: &MailSettings) -> Result<Self, SetupError> {
        let sender: Mailbox =
            settings
                .default_sender
                .parse()
                .map_err(|e: lettre::address::AddressError| SetupError::Sender {
                    value: settings.default_sender.clone(),
                    reason: e.to_string(),
                })?;
        // A bare address gets the app's name, as mail from GitHub or Google names its sender.
        let sender = match (&sender.name, &settings.sender_name) {
            (None, Some(name)) if !name.trim().is_empty() => {
                Mailbox::new(Some(name.trim().to_owned()), sender.email)
            }
            _ => sender,
        };
        let Some(server) = settings.server.as_deref() else {
            return Ok(Transport::Development(DevelopmentTransport {
                dir: settings.outbox_dir.clone(),
                sender,
                log_links: settings.log_links,
            }));
        };

        let tls_parameters = || {
            TlsParameters::new(server.to_owned()).map_err(|e| SetupError::Tls {
                server: server.to_owned(),
                reason: e.to_string(),
            })
        };
        let (tls, security) = if settings.use_ssl {
            (Tls::Wrapper(tls_parameters()?), "implicit TLS")
        } else if settings.use_tls {
            (Tls::Required(tls_parameters()?), "STARTTLS")
        } else {
            (Tls::None, "no TLS")
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server)
            .port(settings.port)
            .tls(tls)
            .timeout(Some(settings.timeout));
        let authenticated = match (&settings.username, &settings.password) {
            (Some(username), Some(password)) => {
                builder = builder.credentials(Credentials::new(
                    username.clone(),
                    password.expose().to_owned(),
                ));
                true
            }
            (None, None) => false,
            _ => {
                tracing::warn!(
                    "only one of MAIL_USERNAME and MAIL_PASSWORD is set: \
                     sending without SMTP authentication"
                );
                false
            }
        };
        let description = format!(
            "SMTP {server}:{} ({security}{})",
            settings.port,
            if authenticated { ", authenticated" } else { "" }
        );
        Ok(Transport::Smtp(SmtpTransport {
            inner: builder.build(),
            sender,
            description,
        }))
    }

    /// A development transport writing into `dir` (tests and tools).
    pub fn development(dir: impl Into<PathBuf>, sender: Mailbox) -> Self {
        Transport::Development(DevelopmentTransport {
            dir: dir.into(),
            sender,
            log_links: true,
        })
    }

    /// One line for the start-up log, without secrets.
    pub fn describe(&self) -> String {
        match self {
            Transport::Smtp(smtp) => smtp.description.clone(),
            Transport::Development(dev) => format!(
                "development: MAIL_SERVER is not set, messages are written to {}",
                dev.dir.display()
            ),
        }
    }

    /// Delivers one message. On `Ok` the SMTP server has accepted it (or the file is written).
    pub async fn send(&self, message: &Message) -> Result<(), SendError> {
        match self {
            Transport::Smtp(smtp) => {
                let email = build_message(&smtp.sender, message)?;
                smtp.inner
                    .send(email)
                    .await
                    .map_err(|e| SendError::Smtp(e.to_string()))?;
                Ok(())
            }
            Transport::Development(dev) => dev.send(message).await,
        }
    }

    /// Closes pooled SMTP connections (politely, with QUIT). Sending afterwards fails.
    pub async fn shutdown(&self) {
        if let Transport::Smtp(smtp) = self {
            smtp.inner.shutdown().await;
        }
    }
}

impl DevelopmentTransport {
    async fn send(&self, message: &Message) -> Result<(), SendError> {
        let email = build_message(&self.sender, message)?;
        let name = format!(
            "{}-{:08x}.eml",
            chrono::Utc::now().format("%Y%m%d-%H%M%S-%6f"),
            rand::random::<u32>()
        );
        let path = self.dir.join(name);
        let dir = self.dir.clone();
        let target = path.clone();
        let bytes = email.formatted();
        tokio::task::spawn_blocking(move || write_file(&dir, &target, &bytes))
            .await
            .map_err(|e| SendError::File {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?
            .map_err(|e| SendError::File {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
        // Links carry tokens: logged for development only (`MailSettings::log_links`).
        let links = if self.log_links {
            links(
                message
                    .text
                    .as_deref()
                    .or(message.html.as_deref())
                    .unwrap_or(""),
            )
        } else {
            Vec::new()
        };
        // The recipient is in the file; the log names none (logs carry no addresses).
        tracing::info!(
            subject = %message.subject,
            links = %if links.is_empty() { "(none)".to_owned() } else { links.join(" ") },
            file = %path.display(),
            "mail not sent (MAIL_SERVER is not set): written to the development outbox"
        );
        Ok(())
    }
}

/// Creates the folder if needed and writes the file in one step (temporary name, then
/// rename), so that a reader never sees half a message.
fn write_file(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let partial = path.with_extension("eml.partial");
    std::fs::write(&partial, bytes)?;
    std::fs::rename(&partial, path)
}

/// The message from `sender` to `message.to`: multipart/alternative (text, then HTML), or
/// the one part it has.
pub fn build_message(sender: &Mailbox, message: &Message) -> Result<lettre::Message, SendError> {
    let to: Mailbox = message
        .to
        .parse()
        .map_err(|e: lettre::address::AddressError| {
            SendError::Message(format!("invalid recipient address {:?}: {e}", message.to))
        })?;
    let builder = lettre::Message::builder()
        .from(sender.clone())
        .to(to)
        .subject(message.subject.clone())
        .message_id(None);
    match (&message.text, &message.html) {
        (Some(text), Some(html)) => builder.multipart(MultiPart::alternative_plain_html(
            text.clone(),
            html.clone(),
        )),
        (Some(text), None) => builder.singlepart(SinglePart::plain(text.clone())),
        (None, Some(html)) => builder.singlepart(SinglePart::html(html.clone())),
        (None, None) => return Err(SendError::Message("the mail has no body".to_owned())),
    }
    .map_err(|e| SendError::Message(e.to_string()))
}

/// The `http://` and `https://` links in a text body, in order, without trailing punctuation.
pub fn links(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = find_link_start(rest) {
        let candidate = &rest[start..];
        let end = candidate
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | '`'))
            .unwrap_or(candidate.len());
        let link = candidate[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']']);
        let scheme = if link.starts_with("https://") { 8 } else { 7 };
        if link.len() > scheme {
            found.push(link);
        }
        rest = &candidate[end..];
    }
    found
}

fn find_link_start(text: &str) -> Option<usize> {
    match (text.find("http://"), text.find("https://")) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(to: &str) -> Message {
        Message {
            to: to.to_owned(),
            subject: "Welcome".to_owned(),
            text: Some("Confirm: http://localhost:8080/confirm/abc".to_owned()),
            html: Some("<p>Confirm</p>".to_owned()),
        }
    }

    #[test]
    fn links_are_found_in_order_without_trailing_punctuation() {
        let text = "Confirm at https://example.com/confirm/a.b-c_d?x=1.\n\
                    Or (http://localhost:8080/reset/tok), or <https://x.org/p>; not ftp://no.";
        assert_eq!(
            links(text),
            vec![
                "https://example.com/confirm/a.b-c_d?x=1",
                "http://localhost:8080/reset/tok",
                "https://x.org/p",
            ]
        );
        assert!(links("no links here, just http:// and https://").is_empty());
    }

    #[test]
    fn messages_are_multipart_alternative_from_the_sender() {
        let sender: Mailbox = "Latchkey <no-reply@example.com>".parse().unwrap();
        let email = build_message(&sender, &message("user@example.com")).unwrap();
        let raw = String::from_utf8(email.formatted()).unwrap();
        assert!(
            raw.contains("From: Latchkey <no-reply@example.com>\r\n"),
            "{raw}"
        );
        assert!(raw.contains("To: user@example.com\r\n"), "{raw}");
        assert!(raw.contains("Subject: Welcome\r\n"), "{raw}");
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(raw.contains("text/plain"), "{raw}");
        assert!(raw.contains("text/html"), "{raw}");
    }

    #[test]
    fn a_message_with_one_part_is_that_part_alone() {
        let sender: Mailbox = "no-reply@localhost".parse().unwrap();
        let mut text_only = message("user@example.com");
        text_only.html = None;
        let raw =
            String::from_utf8(build_message(&sender, &text_only).unwrap().formatted()).unwrap();
        assert!(!raw.contains("multipart"), "{raw}");
        assert!(raw.contains("Content-Type: text/plain"), "{raw}");
        assert!(!raw.contains("text/html"), "{raw}");
        let mut html_only = message("user@example.com");
        html_only.text = None;
        let raw =
            String::from_utf8(build_message(&sender, &html_only).unwrap().formatted()).unwrap();
        assert!(!raw.contains("multipart"), "{raw}");
        assert!(raw.contains("Content-Type: text/html"), "{raw}");
        assert!(!raw.contains("text/plain"), "{raw}");
        html_only.html = None;
        assert!(build_message(&sender, &html_only)
            .unwrap_err()
            .is_permanent());
    }

    #[test]
    fn a_malformed_recipient_is_a_permanent_error() {
        let sender: Mailbox = "no-reply@localhost".parse().unwrap();
        let err = build_message(&sender, &message("not an address")).unwrap_err();
        assert!(err.is_permanent());
        assert!(err.to_string().contains("not an address"), "{err}");
    }

    #[test]
    fn a_malformed_sender_is_a_setup_error() {
        let settings = MailSettings {
            server: None,
            port: 25,
            username: None,
            password: None,
            use_tls: false,
            use_ssl: false,
            default_sender: "nobody at all".to_owned(),
            sender_name: None,
            timeout: std::time::Duration::from_secs(10),
            outbox_dir: PathBuf::from("unused"),
            log_links: true,
            retention: std::time::Duration::from_secs(7 * 86_400),
            parts: Default::default(),
        };
        let err = Transport::from_settings(&settings).err().unwrap();
        assert!(err.to_string().starts_with("MAIL_DEFAULT_SENDER"), "{err}");
    }
}
