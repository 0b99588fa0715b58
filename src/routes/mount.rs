//! One-line registrations for the feature modules' `routes()`: a resource at a route's
//! path (from the app's `Urls`) with the methods it answers; any other method on it is 405. (A path registered with
//! `ServiceConfig::route` instead answers other methods with 404, as before.)

use actix_web::{web, FromRequest, Handler, Resource, Responder};

use crate::web::AppError;

/// Any other method on a registered path: a 405 page in the site's layout (JSON for JSON
/// clients), not an empty answer.
async fn method_not_allowed() -> Result<actix_web::HttpResponse, AppError> {
    Err(AppError::MethodNotAllowed)
}

/// A page: GET and HEAD (same handler; actix sends no body for HEAD).
pub fn page<F, Args>(path: &'static str, get: F) -> Resource
where
    F: Handler<Args> + Clone,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(get.clone()))
        .route(web::head().to(get))
        .default_service(web::to(method_not_allowed))
}

/// A page with a form: GET and HEAD show it, POST submits it.
pub fn form<G, GArgs, P, PArgs>(path: &'static str, get: G, post: P) -> Resource
where
    G: Handler<GArgs> + Clone,
    GArgs: FromRequest + 'static,
    G::Output: Responder + 'static,
    P: Handler<PArgs>,
    PArgs: FromRequest + 'static,
    P::Output: Responder + 'static,
{
    page(path, get).route(web::post().to(post))
}

/// GET and POST, without HEAD (a HEAD request is 405).
pub fn get_post<G, GArgs, P, PArgs>(path: &'static str, get: G, post: P) -> Resource
where
    G: Handler<GArgs>,
    GArgs: FromRequest + 'static,
    G::Output: Responder + 'static,
    P: Handler<PArgs>,
    PArgs: FromRequest + 'static,
    P::Output: Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(get))
        .route(web::post().to(post))
        .default_service(web::to(method_not_allowed))
}

/// POST alone.
pub fn post<P, Args>(path: &'static str, post: P) -> Resource
where
    P: Handler<Args>,
    Args: FromRequest + 'static,
    P::Output: Responder + 'static,
{
    web::resource(path)
        .route(web::post().to(post))
        .default_service(web::to(method_not_allowed))
}

/// GET alone (a provider's answer: HEAD would use up what GET is for).
pub fn get<G, Args>(path: &'static str, get: G) -> Resource
where
    G: Handler<Args>,
    Args: FromRequest + 'static,
    G::Output: Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(get))
        .default_service(web::to(method_not_allowed))
}
