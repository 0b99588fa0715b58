//! Text messages for the `sms` second factor and unified sign-in's `sms` method, sent by the
//! service `SECURITY_SMS_SERVICE` names: [`TwilioSms`] (Twilio's REST API over HTTPS) or
//! Flask-Security's `Dummy`, for which Latchkey's [`DevelopmentSms`] writes each message to
//! a file (and, outside production, its text to the log), like the development mail
//! transport. An app can also plug in its own by implementing [`SmsSender`] and putting it in
//! [`super::Services::sms`] before the web state is built.

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::{Secret, SmsService, SmsSettings, TwilioConfig, TWILIO_TIMEOUT};

/// Sends a text message. Called on the request path, after the sending budget was spent,
/// with a short message; it must neither block nor wait on the provider (queue or spawn the
/// call). A failure is logged by the sender; the user asks for another code.
pub trait SmsSender: Send + Sync {
    fn send(&self, to: &str, text: &str);
}

/// The sender `SECURITY_SMS_SERVICE` names.
pub fn configured(settings: &SmsSettings, log_text: bool) -> Arc<dyn SmsSender> {
    match &settings.service {
        SmsService::Dummy => Arc::new(DevelopmentSms {
            dir: settings.outbox_dir.clone(),
            log_text,
        }),
        SmsService::Twilio(config) => Arc::new(TwilioSms::new(config)),
    }
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

/// Why Twilio did not take a message.
#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    /// Twilio answered with an error (`code` and `message` from its JSON body).
    #[error("Twilio refused the message (HTTP {status}, code {code}): {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    /// Twilio could not be reached in time, or its answer could not be read.
    #[error("cannot reach Twilio: {0}")]
    Unreachable(String),
}

/// Twilio's Messages API: `POST {api}/2010-04-01/Accounts/{sid}/Messages.json` with `To`,
/// `From` and `Body`, the account SID and auth token as basic authentication. Each message is
/// sent by a task of its own, bounded by [`TWILIO_TIMEOUT`].
#[derive(Clone)]
pub struct TwilioSms {
    http: Option<reqwest::Client>,
    url: String,
    account_sid: String,
    auth_token: Secret,
    from: String,
}

impl TwilioSms {
    pub fn new(config: &TwilioConfig) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TWILIO_TIMEOUT)
            .connect_timeout(TWILIO_TIMEOUT)
            .build();
        let http = match http {
            Ok(http) => Some(http),
            Err(e) => {
                tracing::error!(error = %e, "SMS: cannot build the HTTP client for Twilio");
                None
            }
        };
        Self {
            http,
            url: format!(
                "{}/2010-04-01/Accounts/{}/Messages.json",
                config.api_url,
                percent_encoding::utf8_percent_encode(
                    &config.account_sid,
                    percent_encoding::NON_ALPHANUMERIC
                )
            ),
            account_sid: config.account_sid.clone(),
            auth_token: config.auth_token.clone(),
            from: config.phone_number.clone(),
        }
    }

    /// Sends one message and waits for Twilio's answer.
    pub async fn deliver(&self, to: &str, text: &str) -> Result<(), SmsError> {
        let http = self
            .http
            .as_ref()
            .ok_or_else(|| SmsError::Unreachable("no HTTP client".to_owned()))?;
        let answer = http
            .post(&self.url)
            .basic_auth(&self.account_sid, Some(self.auth_token.expose()))
            .form(&[("To", to), ("From", self.from.as_str()), ("Body", text)])
            .send()
            .await
            .map_err(|e| SmsError::Unreachable(e.without_url().to_string()))?;
        let status = answer.status();
        if status.is_success() {
            return Ok(());
        }
        // Twilio's errors: {"code": 21211, "message": "The 'To' number … is not valid.", …}
        let body = answer.bytes().await.unwrap_or_default();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let code = match json.get("code") {
            Some(serde_json::Value::Number(n)) => n.to_string(),
            Some(serde_json::Value::String(s)) => s.clone(),
            _ => "none".to_owned(),
        };
        let message = json
            .get("message")
            .and_then(serde_json::Value::as_str)
            .map_or_else(
                || String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
                str::to_owned,
            );
        Err(SmsError::Refused {
            status: status.as_u16(),
            code,
            message,
        })
    }
}

impl SmsSender for TwilioSms {
    fn send(&self, to: &str, text: &str) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!("SMS: no async runtime to send the text message through Twilio");
            return;
        };
        let (sender, to, text) = (self.clone(), to.to_owned(), text.to_owned());
        runtime.spawn(async move {
            match sender.deliver(&to, &text).await {
                Ok(()) => tracing::info!("text message sent through Twilio"),
                Err(e) => tracing::error!(error = %e, "text message not sent"),
            }
        });
    }
}
