//! `POST /logout`: ends the login server-side, so copies of the old cookies stop working.

use actix_identity::Identity;
use actix_web::HttpResponse;
use serde_json::json;

use crate::auth::events::SecurityEvent;
use crate::auth::login;
use crate::web::current_user::removal_cookie;
use crate::web::page::add_cookie;
use crate::web::submission::NoFields;
use crate::web::{AppError, Submission, Web};

pub async fn submit(
    web: Web,
    identity: Option<Identity>,
    _form: Submission<NoFields>,
) -> Result<HttpResponse, AppError> {
    if let Some(current) = &web.user {
        let session_id = current.session_id.clone();
        web.state
            .db
            .run(move |conn| login::end(conn, &session_id))
            .await?;
        tracing::info!(
            event = "logout",
            user_id = current.user.id,
            ip = %crate::web::client::ip_for_log(&web.request),
            "logout"
        );
        web.emit(SecurityEvent::LoggedOut, Some(current.user.id));
    }
    if let Some(identity) = identity {
        identity.logout();
    }
    let mut response = web.success("/", None, json!({}));
    add_cookie(&mut response, &removal_cookie(web.settings()))?;
    Ok(response)
}
