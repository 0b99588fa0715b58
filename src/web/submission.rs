//! Decoding a submitted form or JSON body into one typed value, with the CSRF check that
//! every POST needs (the token in the `csrf_token` field, or the header `X-CSRF-Token`,
//! `X-CSRFToken` or `SECURITY_CSRF_HEADER`, `X-XSRF-Token` by default). Forms and JSON go through the same struct, so handlers validate once.

use std::future::Future;
use std::pin::Pin;

use actix_session::SessionExt;
use actix_web::http::header;
use actix_web::web::BytesMut;
use actix_web::{dev::Payload, FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::csrf;
use super::error::AppError;
use super::format::Format;

/// Bodies over this size are refused with 413 before they are decoded.
pub const BODY_LIMIT: usize = 64 * 1024;

/// A decoded, CSRF-checked submission.
#[derive(Debug)]
pub struct Submission<T> {
    pub data: T,
    pub format: Format,
}

/// A submission with no fields besides the CSRF token (ending a session, social login's forms).
#[derive(Debug, Default, Deserialize)]
pub struct NoFields {}

impl<T: DeserializeOwned + 'static> FromRequest for Submission<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let kind = BodyKind::of(&req)?;
            if let Some(len) = req
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<usize>().ok())
            {
                if len > BODY_LIMIT {
                    return Err(AppError::PayloadTooLarge);
                }
            }
            let mut body = BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| {
                    AppError::BadRequest(format!("Could not read the request body: {e}"))
                })?;
                if body.len() + chunk.len() > BODY_LIMIT {
                    return Err(AppError::PayloadTooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            let (data, body_token) = match kind {
                BodyKind::Json => decode_json::<T>(&body)?,
                BodyKind::Form => decode_form::<T>(&body)?,
            };
            let configured = req
                .app_data::<actix_web::web::Data<super::state::AppState>>()
                .map(|state| state.settings.spa.csrf_header.clone());
            let header_token = ["x-csrf-token", "x-csrftoken"]
                .into_iter()
                .map(str::to_owned)
                .chain(configured)
                .find_map(|name| req.headers().get(name.as_str()).cloned())
                .and_then(|v| v.to_str().ok().map(str::to_owned));
            if csrf_required(&req) {
                let session = req.get_session();
                if let Err(e) = csrf::verify(&session, header_token.or(body_token).as_deref()) {
                    if Format::of(&req) == Format::Html {
                        super::page::flash(&req, "error", expired_message(&req));
                    }
                    return Err(e.into());
                }
            }
            Ok(Submission {
                data,
                format: Format::of(&req),
            })
        })
    }
}

/// "Your session expired, please try again." in the request's language: the form's page
/// shows it when the browser loads it again (see [`super::error_page::again`]).
fn expired_message(req: &HttpRequest) -> String {
    const EXPIRED: &str = "Your session expired, please try again.";
    match req.app_data::<actix_web::web::Data<super::state::AppState>>() {
        Some(state) => {
            let messages = &state.messages;
            messages
                .in_language(&super::language::of(req, messages))
                .translate(EXPIRED, &[])
        }
        None => EXPIRED.to_owned(),
    }
}

/// Whether this request must carry the session's CSRF token. A request authenticated by
/// an API token needs none unless `SECURITY_CSRF_PROTECT_MECHANISMS` names `token` (no
/// cross-site form can set the header); one with no login needs none when
/// `SECURITY_CSRF_IGNORE_UNAUTH_ENDPOINTS` is on.
fn csrf_required(req: &HttpRequest) -> bool {
    use actix_web::HttpMessage;
    let Some(state) = req.app_data::<actix_web::web::Data<super::state::AppState>>() else {
        return true;
    };
    let tokens = &state.settings.api_tokens;
    match req
        .extensions()
        .get::<crate::auth::login::CurrentUser>()
        .map(|current| current.via_token.is_some())
    {
        Some(true) => tokens.csrf_for_tokens,
        Some(false) => true,
        None => !tokens.csrf_ignore_unauthenticated,
    }
}

enum BodyKind {
    Json,
    Form,
}

impl BodyKind {
    fn of(req: &HttpRequest) -> Result<Self, AppError> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("invalid").to_ascii_lowercase());
        match content_type.as_deref() {
            // A body-less POST (e.g. logout from a script) decodes as an empty form.
            None => Ok(BodyKind::Form),
            Some(ct) if ct.starts_with("application/x-www-form-urlencoded") => Ok(BodyKind::Form),
            Some(ct) if ct.starts_with("application/json") || ct.contains("+json") => {
                Ok(BodyKind::Json)
            }
            Some(_) => Err(AppError::UnsupportedMediaType),
        }
    }
}

fn decode_json<T: DeserializeOwned>(body: &[u8]) -> Result<(T, Option<String>), AppError> {
    let value: serde_json::Value = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::Value::Object(Default::default())
    } else {
        serde_json::from_slice(body)
            .map_err(|e| AppError::BadRequest(format!("Invalid JSON: {e}")))?
    };
    let serde_json::Value::Object(map) = &value else {
        return Err(AppError::BadRequest(
            "The JSON body must be an object.".to_owned(),
        ));
    };
    for (key, v) in map {
        if v.as_str().is_some_and(|s| s.contains('\0')) {
            return Err(AppError::BadRequest(format!(
                "Field {key:?} contains a NUL character."
            )));
        }
    }
    let token = map
        .get("csrf_token")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let data = serde_json::from_value(value)
        .map_err(|e| AppError::BadRequest(format!("Invalid field: {e}")))?;
    Ok((data, token))
}

fn decode_form<T: DeserializeOwned>(body: &[u8]) -> Result<(T, Option<String>), AppError> {
    if std::str::from_utf8(body).is_err() {
        return Err(AppError::BadRequest(
            "The form is not valid UTF-8.".to_owned(),
        ));
    }
    let pairs: Vec<(String, String)> = form_urlencoded_pairs(body)?;
    if pairs
        .iter()
        .any(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        return Err(AppError::BadRequest(
            "The form contains a NUL character.".to_owned(),
        ));
    }
    let token = pairs
        .iter()
        .find(|(k, _)| k == "csrf_token")
        .map(|(_, v)| v.clone());
    // The first value of a repeated field wins (as in Flask); unknown fields are ignored.
    // Decoding goes through the same serde path as JSON.
    let mut map = serde_json::Map::new();
    for (k, v) in pairs {
        map.entry(k).or_insert(serde_json::Value::String(v));
    }
    let data = serde_json::from_value(serde_json::Value::Object(map))
        .map_err(|e| AppError::BadRequest(format!("Invalid form: {e}")))?;
    Ok((data, token))
}

/// The first value of `name` in the request's query string.
pub fn query_param(req: &HttpRequest, name: &str) -> Option<String> {
    form_urlencoded_pairs(req.query_string().as_bytes())
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// The `next` a form typed, else the one in the query string (empty counts as none).
pub fn typed_or_queried_next(web: &super::page::Web, typed: Option<&str>) -> Option<String> {
    typed
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .or_else(|| query_param(&web.request, "next").filter(|n| !n.is_empty()))
}

/// Where a change goes once made: its `next` (typed, else queried) when it stays on this site
/// (the account area's links send `?next=/profile`), else `default`: Flask-Security's
/// `get_post_action_redirect`, which passes over an unsafe `next` without a word.
pub fn then_or(web: &super::page::Web, typed: Option<&str>, default: &str) -> String {
    safe_next(web, typed_or_queried_next(web, typed))
        .ok()
        .flatten()
        .unwrap_or_else(|| default.to_owned())
}

/// Where to go after a form (`raw`: the typed or queried `next`, empty as none), checked to
/// stay on this site (or on a host `SECURITY_REDIRECT_*` allows); an unsafe one is a form error on `next`.
pub fn safe_next(
    web: &super::page::Web,
    raw: Option<String>,
) -> Result<Option<String>, crate::domain::FormErrors> {
    let settings = web.settings();
    match raw.filter(|n| !n.is_empty()) {
        None => Ok(None),
        Some(raw) => crate::domain::SafeNext::parse_with(&raw, &settings.base_url, &settings.spa)
            .map(|n| Some(n.as_str().to_owned()))
            .map_err(|e| crate::domain::FormErrors::single("next", web.describe(&e))),
    }
}

/// Decodes `application/x-www-form-urlencoded`, refusing percent-escapes that are not UTF-8.
pub fn form_urlencoded_pairs(body: &[u8]) -> Result<Vec<(String, String)>, AppError> {
    let mut out = Vec::new();
    for part in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (k, v) = match part.iter().position(|b| *b == b'=') {
            Some(i) => (&part[..i], &part[i + 1..]),
            None => (part, &b""[..]),
        };
        out.push((decode_component(k)?, decode_component(v)?));
    }
    Ok(out)
}

fn decode_component(raw: &[u8]) -> Result<String, AppError> {
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    percent_encoding::percent_decode(&plus_as_space)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| AppError::BadRequest("The form is not valid UTF-8.".to_owned()))
}

/// A checkbox/boolean field: JSON `true`/`false`, or any non-empty form value except the
/// usual spellings of "no".
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Text(String),
            Number(i64),
        }
        Ok(Flag(match Raw::deserialize(d)? {
            Raw::Bool(b) => b,
            Raw::Number(n) => n != 0,
            Raw::Text(s) => !matches!(
                s.trim().to_ascii_lowercase().as_str(),
                "" | "0" | "false" | "no" | "off" | "n"
            ),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Login {
        email: Option<String>,
        remember: Option<Flag>,
    }

    #[test]
    fn forms_decode_with_first_value_winning() {
        let (login, token): (Login, _) =
            decode_form(b"email=a%40b.com&email=other&remember=y&csrf_token=tok").unwrap();
        assert_eq!(login.email.as_deref(), Some("a@b.com"));
        assert_eq!(login.remember, Some(Flag(true)));
        assert_eq!(token.as_deref(), Some("tok"));
    }

    #[test]
    fn json_must_be_an_object_with_fitting_types() {
        assert!(decode_json::<Login>(b"[1,2]").is_err());
        assert!(decode_json::<Login>(b"{\"email\": 5}").is_err());
        assert!(decode_json::<Login>(b"{not json").is_err());
        let (login, _) = decode_json::<Login>(b"{\"email\":\"x\",\"remember\":true}").unwrap();
        assert_eq!(login.remember, Some(Flag(true)));
    }

    #[test]
    fn nul_bytes_and_bad_utf8_are_refused() {
        assert!(decode_form::<Login>(b"email=a%00b").is_err());
        assert!(decode_form::<Login>(b"email=%ff%fe").is_err());
        assert!(decode_form::<Login>(b"email=\xff").is_err());
        assert!(decode_json::<Login>(b"{\"email\":\"a\\u0000b\"}").is_err());
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Register {
            email: Option<String>,
            password: Option<String>,
            password_confirm: Option<String>,
            remember: Option<Flag>,
        }

        /// Bytes shaped like a form: keys, `=`, `&`, `+`, good and bad escapes, raw bytes.
        fn formish() -> impl Strategy<Value = Vec<u8>> {
            prop::collection::vec(
                prop_oneof![
                    Just(b"email=".to_vec()),
                    Just(b"password=".to_vec()),
                    Just(b"remember=".to_vec()),
                    Just(b"csrf_token=".to_vec()),
                    Just(b"&".to_vec()),
                    Just(b"=".to_vec()),
                    Just(b"+".to_vec()),
                    Just(b"%".to_vec()),
                    "%[0-9a-fA-F]{2}".prop_map(String::into_bytes),
                    "%[g-z]{0,2}".prop_map(String::into_bytes),
                    "\\PC{0,8}".prop_map(String::into_bytes),
                    prop::collection::vec(any::<u8>(), 0..8),
                ],
                0..30,
            )
            .prop_map(|parts| parts.concat())
        }

        /// Text shaped like JSON: fragments in any order, so most of it is almost valid.
        fn jsonish() -> impl Strategy<Value = Vec<u8>> {
            prop::collection::vec(
                prop_oneof![
                    Just("{".to_owned()),
                    Just("}".to_owned()),
                    Just("[".to_owned()),
                    Just("]".to_owned()),
                    Just(",".to_owned()),
                    Just(":".to_owned()),
                    Just("\"email\"".to_owned()),
                    Just("\"remember\"".to_owned()),
                    Just("\"csrf_token\"".to_owned()),
                    Just("true".to_owned()),
                    Just("null".to_owned()),
                    Just("\"\\u0000\"".to_owned()),
                    Just("\"\\ud800\"".to_owned()),
                    "-?[0-9]{1,30}(\\.[0-9]{1,5})?(e[0-9]{1,4})?",
                    "\"\\PC{0,10}\"",
                ],
                0..30,
            )
            .prop_map(|parts| parts.concat().into_bytes())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1024))]

            #[test]
            fn form_decoding_never_panics(body in formish()) {
                if let Ok((form, _)) = decode_form::<Register>(&body) {
                    // What gets through is UTF-8 without NULs.
                    prop_assert!(std::str::from_utf8(&body).is_ok());
                    for v in [&form.email, &form.password, &form.password_confirm].into_iter().flatten() {
                        prop_assert!(!v.contains('\0'));
                    }
                }
            }

            #[test]
            fn json_decoding_never_panics(body in prop_oneof![jsonish(), prop::collection::vec(any::<u8>(), 0..200)]) {
                if let Ok((form, _)) = decode_json::<Register>(&body) {
                    for v in [&form.email, &form.password, &form.password_confirm].into_iter().flatten() {
                        prop_assert!(!v.contains('\0'));
                    }
                }
            }

            #[test]
            fn encoded_fields_round_trip(
                email in "\\PC{0,40}",
                password in "\\PC{0,40}",
                token in "[A-Za-z0-9_-]{0,43}",
            ) {
                prop_assume!(!email.contains('\0') && !password.contains('\0'));
                let body: String = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("email", &email)
                    .append_pair("password", &password)
                    .append_pair("csrf_token", &token)
                    .finish();
                let (form, got) = decode_form::<Register>(body.as_bytes()).unwrap();
                prop_assert_eq!(form.email, Some(email.clone()));
                prop_assert_eq!(form.password, Some(password.clone()));
                prop_assert_eq!(got, Some(token.clone()));
                let json = serde_json::json!({"email": email, "password": password, "csrf_token": token});
                let (form, got) = decode_json::<Register>(json.to_string().as_bytes()).unwrap();
                prop_assert_eq!(form.email, Some(email));
                prop_assert_eq!(form.password, Some(password));
                prop_assert_eq!(got, Some(token));
            }
        }
    }
}
