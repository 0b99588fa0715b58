//! Which format the client wants back: Flask-Security answers JSON when the body is JSON or
//! `Accept` asks for it.

use std::future::{ready, Ready};

use actix_web::http::header::{self, Accept, Header, Quality};
use actix_web::{dev::Payload, FromRequest, HttpRequest};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Json,
}

impl Format {
    /// JSON when the body is JSON, or when `Accept` (read by actix-web's typed header, with
    /// its quality values) takes `application/json` over `text/html`: JSON with a quality
    /// above 0 and above HTML's (absent or `q=0` is 0). A tie is HTML, as for a browser.
    pub fn of(req: &HttpRequest) -> Self {
        let body_is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("application/json"));
        let accept = Accept::parse(req).map(|a| a.0).unwrap_or_default();
        let quality_of = |wanted: &str| {
            accept
                .iter()
                .filter(|item| item.item.essence_str().eq_ignore_ascii_case(wanted))
                .map(|item| item.quality)
                .max()
                .unwrap_or(Quality::ZERO)
        };
        let json = quality_of("application/json");
        if body_is_json || (json > Quality::ZERO && json > quality_of("text/html")) {
            Format::Json
        } else {
            Format::Html
        }
    }

    pub fn is_json(self) -> bool {
        self == Format::Json
    }
}

impl FromRequest for Format {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Format::of(req)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn format(headers: &[(&str, &str)]) -> Format {
        let mut req = TestRequest::default();
        for header in headers {
            req = req.insert_header(*header);
        }
        Format::of(&req.to_http_request())
    }

    #[test]
    fn json_when_the_body_is_json_or_accept_prefers_it() {
        assert_eq!(format(&[]), Format::Html);
        assert_eq!(
            format(&[("Content-Type", "application/json")]),
            Format::Json
        );
        assert_eq!(format(&[("Accept", "application/json")]), Format::Json);
        assert_eq!(
            format(&[("Accept", "Application/JSON; charset=utf-8")]),
            Format::Json
        );
        assert_eq!(
            format(&[("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")]),
            Format::Html
        );
        assert_eq!(
            format(&[("Accept", "application/json, text/html")]),
            Format::Html
        );
        assert_eq!(
            format(&[("Accept", "application/json, text/html;q=0.5")]),
            Format::Json
        );
        // q=0: not acceptable.
        assert_eq!(format(&[("Accept", "application/json;q=0")]), Format::Html);
        assert_eq!(
            format(&[("Accept", "application/json, text/html;q=0")]),
            Format::Json
        );
        assert_eq!(format(&[("Accept", "*/*")]), Format::Html);
    }
}
