//! The URL table: every path Latchkey serves, written once. Routing (`routes::*::routes`),
//! the `urls` object pages get, mail links, redirects and the step-up `return_to` all name a
//! [`Route`] instead of spelling its path, so a later change can make each path
//! configurable (Flask-Security's `SECURITY_*_URL` keys and `SECURITY_URL_PREFIX`) here alone.
//!
//! This module imports nothing of the crate: any floor may use it.

/// The root of the site's URL space: the path every cookie is scoped to, and a request's
/// path when it has none. (The home page is [`Route::Home`], which is the same today.)
pub const ROOT: &str = "/";

/// One route of the app. [`Route::path`] is its actix pattern: a plain path, or one with a
/// `{…}` segment (a token, a setup state, a file name) that [`Route::with_token`] fills in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    /// The home page.
    Home,
    /// The logged-in user's profile.
    Profile,
    /// The page for premium users.
    Premium,
    /// The admin page.
    Admin,
    /// The health check.
    Healthz,
    /// Logging in with a password.
    Login,
    /// Logging out.
    Logout,
    /// Choosing the language.
    Lang,
    /// The user's sessions and API tokens.
    Sessions,
    /// Ending one session.
    SessionsRevoke,
    /// Ending every other session.
    SessionsRevokeOthers,
    /// Revoking an API token.
    SessionsRevokeToken,
    /// Confirming the password again (step-up).
    Verify,
    /// Registration.
    Register,
    /// Asking for a new confirmation mail.
    Confirm,
    /// The link of a confirmation mail.
    ConfirmToken,
    /// Asking for a password reset mail.
    Reset,
    /// The link of a password reset mail.
    ResetToken,
    /// Setting up two-factor sign-in.
    TfSetup,
    /// Validating a two-factor setup.
    TfSetupToken,
    /// Entering the second factor's code.
    TfValidate,
    /// Help when the second factor is lost.
    TfRescue,
    /// Choosing among several second factors.
    TfSelect,
    /// Showing and renewing the recovery codes.
    MfRecoveryCodes,
    /// Signing in with a recovery code.
    MfRecovery,
    /// Unified sign-in.
    UsSignin,
    /// Sending a unified sign-in code.
    UsSigninSendCode,
    /// Setting up unified sign-in methods.
    UsSetup,
    /// Validating a unified sign-in method's setup.
    UsSetupState,
    /// Unified step-up verification.
    UsVerify,
    /// Sending a unified verification code.
    UsVerifySendCode,
    /// The link of a unified sign-in mail.
    UsVerifyLink,
    /// Registering a passkey.
    WanRegister,
    /// Finishing a passkey's registration.
    WanRegisterState,
    /// Deleting a passkey.
    WanDelete,
    /// Signing in with a passkey.
    WanSignin,
    /// Finishing a passkey sign-in.
    WanSigninState,
    /// Step-up verification with a passkey.
    WanVerify,
    /// Finishing a passkey verification.
    WanVerifyState,
    /// Registering with a passkey instead of a password.
    WanSignup,
    /// Finishing a passkey registration of a new account.
    WanSignupState,
    /// Changing the password.
    Change,
    /// Refreshing an API token.
    RefreshToken,
    /// Changing the email address.
    ChangeEmail,
    /// The link that confirms a new email address.
    ChangeEmailToken,
    /// The "this wasn't me" link sent to the old email address.
    ChangeEmailRevert,
    /// Changing the username.
    ChangeUsername,
    /// Asking for a forgotten username.
    RecoverUsername,
    /// Starting a social sign-in with a provider (`SECURITY_OAUTH_START_URL`).
    OauthStart,
    /// A provider's answer to a social sign-in (`SECURITY_OAUTH_RESPONSE_URL`).
    OauthResponse,
    /// Starting a re-authentication with a provider (`SECURITY_OAUTH_VERIFY_START_URL`).
    OauthVerifyStart,
    /// A provider's answer to a re-authentication (`SECURITY_OAUTH_VERIFY_RESPONSE_URL`), or
    /// to the linking of another identity.
    OauthVerifyResponse,
    /// Linking another social login identity (the account page).
    OauthLink,
    /// Unlinking a social login identity (the account page).
    OauthUnlink,
    /// The site's icon (browsers ask for it on every first visit).
    Favicon,
    /// The folder of static files (stylesheet, scripts).
    Static,
    /// One static file.
    StaticFile,
}

impl Route {
    /// Every route, in the order the app registers them (static files last).
    pub const ALL: &'static [Route] = &[
        Route::Home,
        Route::Profile,
        Route::Premium,
        Route::Admin,
        Route::Healthz,
        Route::Login,
        Route::Logout,
        Route::Lang,
        Route::Sessions,
        Route::SessionsRevoke,
        Route::SessionsRevokeOthers,
        Route::SessionsRevokeToken,
        Route::Verify,
        Route::Register,
        Route::Confirm,
        Route::ConfirmToken,
        Route::Reset,
        Route::ResetToken,
        Route::TfSetup,
        Route::TfSetupToken,
        Route::TfValidate,
        Route::TfRescue,
        Route::TfSelect,
        Route::MfRecoveryCodes,
        Route::MfRecovery,
        Route::UsSignin,
        Route::UsSigninSendCode,
        Route::UsSetup,
        Route::UsSetupState,
        Route::UsVerify,
        Route::UsVerifySendCode,
        Route::UsVerifyLink,
        Route::WanRegister,
        Route::WanRegisterState,
        Route::WanDelete,
        Route::WanSignin,
        Route::WanSigninState,
        Route::WanVerify,
        Route::WanVerifyState,
        Route::WanSignup,
        Route::WanSignupState,
        Route::Change,
        Route::RefreshToken,
        Route::ChangeEmail,
        Route::ChangeEmailToken,
        Route::ChangeEmailRevert,
        Route::ChangeUsername,
        Route::RecoverUsername,
        Route::OauthStart,
        Route::OauthResponse,
        Route::OauthVerifyStart,
        Route::OauthVerifyResponse,
        Route::OauthLink,
        Route::OauthUnlink,
        Route::Favicon,
        Route::Static,
        Route::StaticFile,
    ];

    /// The route's path, as actix routes it: `{…}` marks a segment that varies.
    pub const fn path(self) -> &'static str {
        match self {
            Route::Home => "/",
            Route::Profile => "/profile",
            Route::Premium => "/premium",
            Route::Admin => "/admin",
            Route::Healthz => "/healthz",
            Route::Login => "/login",
            Route::Logout => "/logout",
            Route::Lang => "/lang",
            Route::Sessions => "/sessions",
            Route::SessionsRevoke => "/sessions/revoke",
            Route::SessionsRevokeOthers => "/sessions/revoke-others",
            Route::SessionsRevokeToken => "/sessions/revoke-token",
            Route::Verify => "/verify",
            Route::Register => "/register",
            Route::Confirm => "/confirm",
            Route::ConfirmToken => "/confirm/{token}",
            Route::Reset => "/reset",
            Route::ResetToken => "/reset/{token}",
            Route::TfSetup => "/tf-setup",
            Route::TfSetupToken => "/tf-setup/{token}",
            Route::TfValidate => "/tf-validate",
            Route::TfRescue => "/tf-rescue",
            Route::TfSelect => "/tf-select",
            Route::MfRecoveryCodes => "/mf-recovery-codes",
            Route::MfRecovery => "/mf-recovery",
            Route::UsSignin => "/us-signin",
            Route::UsSigninSendCode => "/us-signin/send-code",
            Route::UsSetup => "/us-setup",
            Route::UsSetupState => "/us-setup/{state}",
            Route::UsVerify => "/us-verify",
            Route::UsVerifySendCode => "/us-verify/send-code",
            Route::UsVerifyLink => "/us-verify-link",
            Route::WanRegister => "/wan-register",
            Route::WanRegisterState => "/wan-register/{state}",
            Route::WanDelete => "/wan-delete",
            Route::WanSignin => "/wan-signin",
            Route::WanSigninState => "/wan-signin/{state}",
            Route::WanVerify => "/wan-verify",
            Route::WanVerifyState => "/wan-verify/{state}",
            Route::WanSignup => "/wan-signup",
            Route::WanSignupState => "/wan-signup/{state}",
            Route::Change => "/change",
            Route::RefreshToken => "/refresh-token",
            Route::ChangeEmail => "/change-email",
            Route::ChangeEmailToken => "/change-email/{token}",
            Route::ChangeEmailRevert => "/change-email/revert/{token}",
            Route::ChangeUsername => "/change-username",
            Route::RecoverUsername => "/recover-username",
            Route::OauthStart => "/login/oauthstart/{name}",
            Route::OauthResponse => "/login/oauthresponse/{name}",
            Route::OauthVerifyStart => "/login/oauth-verify-start/{name}",
            Route::OauthVerifyResponse => "/login/oauth-verify-response/{name}",
            Route::OauthLink => "/oauth-link/{name}",
            Route::OauthUnlink => "/oauth-unlink",
            Route::Favicon => "/favicon.ico",
            Route::Static => "/static",
            Route::StaticFile => "/static/{name}",
        }
    }

    /// The path with its `{…}` segment replaced by `token` (e.g. `/confirm/abc` for
    /// [`Route::ConfirmToken`]); a route without one gets `token` as a last segment.
    pub fn with_token(self, token: &str) -> String {
        let path = self.path();
        match path.rfind("/{") {
            Some(i) if path.ends_with('}') => format!("{}/{token}", &path[..i]),
            _ => format!("{path}/{token}"),
        }
    }

    /// The path followed by a query string (`/login?next=…`); `query` is used as given.
    pub fn with_query(self, query: &str) -> String {
        format!("{}?{query}", self.path())
    }

    /// The path with `?next=` (percent-encoded) when there is a `next`, else the bare path:
    /// where a page sends the browser on and back.
    pub fn with_next(self, next: Option<&str>) -> String {
        match next {
            Some(next) => self.with_query(&format!(
                "next={}",
                percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC)
            )),
            None => self.path().to_owned(),
        }
    }

    /// The path without its varying last segment (`/login/oauthstart` for
    /// [`Route::OauthStart`]): what Flask-Security's `SECURITY_*_URL` keys name.
    pub fn base(self) -> &'static str {
        let path = self.path();
        match path.rfind("/{") {
            Some(i) if i > 0 && path.ends_with('}') => &path[..i],
            _ => path,
        }
    }

    /// Whether `path` lies under this route's path (`/static/x` under [`Route::Static`]),
    /// not counting the route's own path.
    pub fn encloses(self, path: &str) -> bool {
        path.strip_prefix(self.path())
            .is_some_and(|rest| rest.starts_with('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_listed_once_with_its_own_path() {
        let mut paths: Vec<&str> = Route::ALL.iter().map(|r| r.path()).collect();
        assert_eq!(paths.len(), Route::ALL.len());
        paths.sort_unstable();
        paths.dedup();
        assert_eq!(paths.len(), Route::ALL.len(), "two routes share a path");
        assert!(paths.iter().all(|p| p.starts_with('/')));
    }

    #[test]
    fn all_lists_every_variant_in_order() {
        for (i, route) in Route::ALL.iter().enumerate() {
            assert_eq!(*route as usize, i, "{route:?}");
        }
        // StaticFile is the last variant: a new one goes before it, and into ALL.
        assert_eq!(Route::ALL.len(), Route::StaticFile as usize + 1);
    }

    #[test]
    fn tokens_fill_the_varying_segment() {
        assert_eq!(Route::ConfirmToken.with_token("abc"), "/confirm/abc");
        assert_eq!(
            Route::ChangeEmailRevert.with_token("t"),
            "/change-email/revert/t"
        );
        assert_eq!(
            Route::StaticFile.with_token("latchkey.css"),
            "/static/latchkey.css"
        );
        assert_eq!(Route::Static.with_token("x.js"), "/static/x.js");
        assert_eq!(Route::Login.with_query("next=%2F"), "/login?next=%2F");
    }

    #[test]
    fn paths_under_a_route_exclude_the_route_itself() {
        assert!(Route::Static.encloses("/static/latchkey.css"));
        assert!(!Route::Static.encloses("/static"));
        assert!(!Route::Static.encloses("/statics/x"));
    }
}
