//! Which format the client wants back: Flask-Security answers JSON when the body is JSON or
//! `Accept` asks for it.

use std::future::{ready, Ready};

use actix_web::{dev::Payload, http::header, FromRequest, HttpRequest};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Json,
}

impl Format {
    pub fn of(req: &HttpRequest) -> Self {
        let header_has_json = |name: header::HeaderName| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.to_ascii_lowercase().contains("application/json"))
        };
        let accepts_html = req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"));
        if header_has_json(header::CONTENT_TYPE)
            || (header_has_json(header::ACCEPT) && !accepts_html)
        {
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
