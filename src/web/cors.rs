//! Cross-origin requests from a single-page app on another origin
//! (`SECURITY_CORS_ALLOWED_ORIGINS`, Latchkey's own key: Flask-Security leaves CORS to
//! flask-cors). Off unless origins are listed; a listed origin may send credentials (the
//! session cookie), so `*` is never answered.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};

use super::state::AppState;

/// The headers a cross-origin request may send besides the CORS-safelisted ones.
const BASE_HEADERS: &str = "Content-Type, Accept, Accept-Language, X-CSRF-Token, X-CSRFToken";

/// Answers a listed origin's preflight (`OPTIONS` with `Access-Control-Request-Method`) and
/// marks every answer to a listed origin as readable by it, credentials included.
pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .filter(|o| {
            state
                .settings
                .spa
                .cors_allowed_origins
                .iter()
                .any(|a| a == o)
        })
        .and_then(|o| HeaderValue::from_str(o).ok());
    let Some(origin) = origin else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut res = if preflight {
        let settings = &state.settings;
        let allowed = format!(
            "{BASE_HEADERS}, {}, {}",
            settings.spa.csrf_header, settings.api_tokens.header
        );
        let response = HttpResponse::build(StatusCode::NO_CONTENT)
            .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST"))
            .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, allowed))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
            .finish();
        req.into_response(response)
    } else {
        next.call(req).await?.map_into_boxed_body()
    };
    let headers = res.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    Ok(res)
}
