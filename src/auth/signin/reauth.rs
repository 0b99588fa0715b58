//! The ways a logged-in user can prove again that it is them ("Confirm it's you": `/verify`,
//! `/us-verify`, `/wan-verify`). Each of those pages offers the others that this user has, so
//! that whichever one a change sends them to, every way is there.

use serde::Serialize;

use crate::auth::error::ServiceError;
use crate::auth::services::Services;
use crate::auth::unified;
use crate::config::UsMethod;
use crate::db::models::User;

/// What `user` can confirm with, as this configuration allows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Ways {
    /// The account has a password (`/verify`, or `/us-verify`'s field).
    pub password: bool,
    /// Unified sign-in methods set up that send a code (`email`, `sms`), in the configured
    /// order (`/us-verify/send-code`).
    pub codes: Vec<&'static str>,
    /// An authenticator app set up for unified sign-in (its code on `/us-verify`).
    pub authenticator: bool,
    /// A passkey whose usage `SECURITY_WAN_ALLOW_AS_VERIFY` accepts (`/wan-verify`).
    pub passkey: bool,
    /// The social login providers offered at which the account has a linked identity
    /// (`/login/oauth-verify-start/<name>`), in the configured order.
    pub oauth: Vec<String>,
}

/// The ways `user` can confirm it is them.
pub async fn ways(services: &Services, user: &User) -> Result<Ways, ServiceError> {
    let settings = &services.settings;
    let unified_methods = if settings.unified_signin.enabled {
        unified::active_methods(services, user)
    } else {
        Vec::new()
    };
    let passkey = if settings.webauthn.enabled {
        let id = user.id;
        let usages = settings.webauthn.allow_as_verify.clone();
        services
            .db
            .run(move |conn| {
                for usage in &usages {
                    if crate::db::passkeys::has_usage(conn, id, usage)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            })
            .await?
    } else {
        false
    };
    let oauth = if settings.oauth.enabled {
        let id = user.id;
        let linked = services
            .db
            .run(move |conn| crate::db::identities::for_user(conn, id))
            .await?;
        settings
            .oauth
            .provider_names()
            .into_iter()
            .filter(|name| linked.iter().any(|l| l.provider == *name))
            .collect()
    } else {
        Vec::new()
    };
    Ok(Ways {
        oauth,
        password: user.password_hash().is_some(),
        codes: unified_methods
            .iter()
            .filter(|m| m.sends_code())
            .map(|m| m.as_str())
            .collect(),
        authenticator: unified_methods.contains(&UsMethod::Authenticator),
        passkey,
    })
}
