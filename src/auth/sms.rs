//! Text messages for the `sms` second factor. Latchkey ships no SMS provider: an app plugs
//! one in by implementing [`SmsSender`] and putting it in [`super::Services::sms`] before the
//! web state is built. The built-in [`DevelopmentSms`] writes each message to a file (and,
//! outside production, its text to the log), like the development mail transport.

use std::path::PathBuf;

/// A phone number as text messages need it: `+` and 8 to 15 digits (spaces, dots, dashes
/// and brackets dropped); `None` for anything else.
pub fn canonical_phone(raw: &str) -> Option<String> {
    let kept: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')'))
        .collect();
    let digits = kept.strip_prefix('+')?;
    ((8..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()))
        .then(|| format!("+{digits}"))
}

/// Sends a text message. Called on the request path with a short message; an
/// implementation that talks to a provider should queue or time-bound the call. A failure
/// is logged by the sender; the user asks for another code.
pub trait SmsSender: Send + Sync {
    fn send(&self, to: &str, text: &str);
}

/// Writes each message to `<dir>/<time>-<random>.txt`; logs its text only when `log_text`
/// (development), since it carries a code.
pub struct DevelopmentSms {
    pub dir: PathBuf,
    pub log_text: bool,
}

impl SmsSender for DevelopmentSms {
    fn send(&self, to: &str, text: &str) {
        let name = format!(
            "{}-{:08x}.txt",
            chrono::Utc::now().format("%Y%m%d-%H%M%S-%6f"),
            rand::random::<u32>()
        );
        let path = self.dir.join(name);
        let written = std::fs::create_dir_all(&self.dir)
            .and_then(|()| std::fs::write(&path, format!("To: {to}\n\n{text}\n")));
        match written {
            Ok(()) if self.log_text => tracing::info!(
                file = %path.display(),
                text = %text,
                "text message not sent (no SMS provider): written to the development outbox"
            ),
            Ok(()) => tracing::info!(
                file = %path.display(),
                "text message not sent (no SMS provider): written to the development outbox"
            ),
            Err(e) => {
                tracing::error!(file = %path.display(), error = %e, "cannot write a text message")
            }
        }
    }
}
