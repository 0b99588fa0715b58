//! Phone numbers and text messages: `SECURITY_PHONE_REGION_DEFAULT`, `SECURITY_SMS_SERVICE`
//! and `SECURITY_SMS_SERVICE_CONFIG`, as Flask-Security names them.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use super::secret::Secret;
use super::source::{ConfigError, Source};

/// Twilio's REST API, which `SMS_TWILIO_API_URL` replaces for tests only.
pub const TWILIO_API_URL: &str = "https://api.twilio.com";

/// How long one call to Twilio may take, connection included.
pub const TWILIO_TIMEOUT: Duration = Duration::from_secs(10);

/// Who sends the text messages (`SECURITY_SMS_SERVICE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsService {
    /// Flask-Security's `Dummy`: nothing is sent; Latchkey writes each message to
    /// `SMS_OUTBOX_DIR` (the development outbox).
    Dummy,
    /// Twilio's Messages API.
    Twilio(TwilioConfig),
}

/// `SECURITY_SMS_SERVICE_CONFIG` for Twilio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwilioConfig {
    pub account_sid: String,
    pub auth_token: Secret,
    /// The sender (`From`), as Twilio knows it.
    pub phone_number: String,
    /// `https://api.twilio.com`, or `SMS_TWILIO_API_URL` (tests: a local stub).
    pub api_url: String,
}

#[derive(Debug, Clone)]
pub struct SmsSettings {
    /// `SECURITY_PHONE_REGION_DEFAULT`: the region (ISO 3166 code, e.g. `US`) a number
    /// without `+country` is read in.
    pub phone_region_default: phonenumber::country::Id,
    pub service: SmsService,
    /// Where the `Dummy` service writes text messages (`SMS_OUTBOX_DIR`).
    pub outbox_dir: PathBuf,
}

pub(super) fn sms(src: &Source) -> Result<SmsSettings, ConfigError> {
    let region_key = "SECURITY_PHONE_REGION_DEFAULT";
    let region = src.text(region_key, "US").to_ascii_uppercase();
    let phone_region_default = phonenumber::country::Id::from_str(&region).map_err(|_| {
        ConfigError::new(
            region_key,
            format!("{region:?} is not a region code (e.g. US, GB, DE)"),
        )
    })?;
    let service_key = "SECURITY_SMS_SERVICE";
    let service = match src.text(service_key, "Dummy") {
        "Dummy" => SmsService::Dummy,
        "Twilio" => SmsService::Twilio(twilio(src)?),
        other => {
            return Err(ConfigError::new(
                service_key,
                format!("expected Dummy or Twilio, got {other:?}"),
            ))
        }
    };
    Ok(SmsSettings {
        phone_region_default,
        service,
        outbox_dir: PathBuf::from(src.get("SMS_OUTBOX_DIR").unwrap_or("instance/sms")),
    })
}

fn twilio(src: &Source) -> Result<TwilioConfig, ConfigError> {
    let key = "SECURITY_SMS_SERVICE_CONFIG";
    let raw = src.required(key)?;
    let fail = |reason: &str| {
        ConfigError::new(
            key,
            format!(
                "{reason}; expected JSON such as \
                 {{\"ACCOUNT_SID\": \"AC…\", \"AUTH_TOKEN\": \"…\", \"PHONE_NUMBER\": \"+15005550006\"}}"
            ),
        )
    };
    let value: serde_json::Value =
        serde_json::from_str(raw).map_err(|_| fail("is not a JSON object"))?;
    let field = |name: &str| -> Result<String, ConfigError> {
        value
            .get(name)
            .and_then(serde_json::Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| fail(&format!("{name} is missing")))
    };
    let api_key = "SMS_TWILIO_API_URL";
    let api_url = src
        .get(api_key)
        .unwrap_or(TWILIO_API_URL)
        .trim_end_matches('/')
        .to_owned();
    // The account's token goes with every call: only over TLS, except to a local stub.
    let local = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"]
        .iter()
        .any(|prefix| api_url.starts_with(prefix));
    if !api_url.starts_with("https://") && !local {
        return Err(ConfigError::new(
            api_key,
            "must be an https:// URL (or http:// on this machine, for a test stub)",
        ));
    }
    Ok(TwilioConfig {
        account_sid: field("ACCOUNT_SID")?,
        auth_token: Secret::new(field("AUTH_TOKEN")?),
        phone_number: field("PHONE_NUMBER")?,
        api_url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<SmsSettings, ConfigError> {
        sms(&Source::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn dummy_and_us_by_default_and_twilio_from_its_json_config() {
        let s = read(&[]).unwrap();
        assert_eq!(s.service, SmsService::Dummy);
        assert_eq!(s.phone_region_default, phonenumber::country::Id::US);
        let config =
            r#"{"ACCOUNT_SID": "AC123", "AUTH_TOKEN": "tok", "PHONE_NUMBER": "+15005550006"}"#;
        let s = read(&[
            ("SECURITY_PHONE_REGION_DEFAULT", "gb"),
            ("SECURITY_SMS_SERVICE", "Twilio"),
            ("SECURITY_SMS_SERVICE_CONFIG", config),
        ])
        .unwrap();
        assert_eq!(s.phone_region_default, phonenumber::country::Id::GB);
        let SmsService::Twilio(twilio) = s.service else {
            panic!("Twilio")
        };
        assert_eq!(twilio.account_sid, "AC123");
        assert_eq!(twilio.auth_token.expose(), "tok");
        assert_eq!(twilio.phone_number, "+15005550006");
        assert_eq!(twilio.api_url, TWILIO_API_URL);
        assert!(
            !format!("{twilio:?}").contains("tok\""),
            "the token is never printed"
        );
    }

    #[test]
    fn bad_sms_settings_name_their_key() {
        let config = r#"{"ACCOUNT_SID": "AC123", "AUTH_TOKEN": "tok", "PHONE_NUMBER": "+1"}"#;
        for (pairs, key) in [
            (
                vec![("SECURITY_PHONE_REGION_DEFAULT", "XX1")],
                "SECURITY_PHONE_REGION_DEFAULT",
            ),
            (
                vec![("SECURITY_SMS_SERVICE", "Nexmo")],
                "SECURITY_SMS_SERVICE",
            ),
            (
                vec![("SECURITY_SMS_SERVICE", "Twilio")],
                "SECURITY_SMS_SERVICE_CONFIG",
            ),
            (
                vec![
                    ("SECURITY_SMS_SERVICE", "Twilio"),
                    ("SECURITY_SMS_SERVICE_CONFIG", "{'ACCOUNT_SID': 'AC1'}"),
                ],
                "SECURITY_SMS_SERVICE_CONFIG",
            ),
            (
                vec![
                    ("SECURITY_SMS_SERVICE", "Twilio"),
                    (
                        "SECURITY_SMS_SERVICE_CONFIG",
                        r#"{"ACCOUNT_SID": "AC1", "PHONE_NUMBER": "+1"}"#,
                    ),
                ],
                "SECURITY_SMS_SERVICE_CONFIG",
            ),
            (
                vec![
                    ("SECURITY_SMS_SERVICE", "Twilio"),
                    ("SECURITY_SMS_SERVICE_CONFIG", config),
                    ("SMS_TWILIO_API_URL", "http://api.example.com"),
                ],
                "SMS_TWILIO_API_URL",
            ),
        ] {
            let err = read(&pairs).unwrap_err().to_string();
            assert!(err.contains(key), "{pairs:?}: {err}");
        }
    }
}
