//! The URL table: every path Latchkey serves, written once. Routing (`routes::*::routes`),
//! the `urls` object pages get, mail links, redirects and the step-up `return_to` all name a
//! [`Route`] instead of spelling its path, and ask the app's [`Urls`] for it: the table of
//! paths that Flask-Security's `SECURITY_URL_PREFIX` and `SECURITY_*_URL` keys make, each
//! route placed as [`Route::place`] says.
//!
//! This module imports nothing of the crate: any floor may use it.

/// The root of the site's URL space: the path every cookie is scoped to, and a request's
/// path when it has none. (The home page is [`Route::Home`], which is the same today.)
pub const ROOT: &str = "/";

/// One route of the app. Its path ([`Urls::path`]) is an actix pattern: a plain path, or one
/// with a `{…}` segment (a token, a setup state, a file name) that [`Urls::with_token`] fills.
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
    /// The OpenID Connect provider's discovery document.
    OidcDiscovery,
    /// The provider's public signing keys (JWKS).
    OidcJwks,
    /// The provider's authorization endpoint (and its consent form).
    OidcAuthorize,
    /// The provider's token endpoint.
    OidcToken,
    /// The provider's userinfo endpoint.
    OidcUserinfo,
    /// The provider's token revocation endpoint (RFC 7009).
    OidcRevoke,
    /// The provider's token introspection endpoint (RFC 7662).
    OidcIntrospect,
    /// The provider's end-session endpoint (RP-initiated logout).
    OidcLogout,
    /// "Apps with access": the apps a user let sign them in.
    OidcApps,
    /// Removing an app's access.
    OidcAppsRevoke,
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
        Route::OidcDiscovery,
        Route::OidcJwks,
        Route::OidcAuthorize,
        Route::OidcToken,
        Route::OidcUserinfo,
        Route::OidcRevoke,
        Route::OidcIntrospect,
        Route::OidcLogout,
        Route::OidcApps,
        Route::OidcAppsRevoke,
        Route::Favicon,
        Route::Static,
        Route::StaticFile,
    ];

    /// Where the route is served: see [`Place`].
    pub const fn place(self) -> Place {
        match self {
            Route::Home => Place::Root("/"),
            Route::Profile => Place::Root("/profile"),
            Route::Premium => Place::Root("/premium"),
            Route::Admin => Place::Root("/admin"),
            Route::Healthz => Place::Root("/healthz"),
            Route::Login => Place::Key("SECURITY_LOGIN_URL", "/login", ""),
            Route::Logout => Place::Key("SECURITY_LOGOUT_URL", "/logout", ""),
            Route::Lang => Place::Prefixed("/lang"),
            Route::Sessions => Place::Prefixed("/sessions"),
            Route::SessionsRevoke => Place::Prefixed("/sessions/revoke"),
            Route::SessionsRevokeOthers => Place::Prefixed("/sessions/revoke-others"),
            Route::SessionsRevokeToken => Place::Prefixed("/sessions/revoke-token"),
            Route::Verify => Place::Key("SECURITY_VERIFY_URL", "/verify", ""),
            Route::Register => Place::Key("SECURITY_REGISTER_URL", "/register", ""),
            Route::Confirm => Place::Key("SECURITY_CONFIRM_URL", "/confirm", ""),
            Route::ConfirmToken => Place::Key("SECURITY_CONFIRM_URL", "/confirm", "{token}"),
            Route::Reset => Place::Key("SECURITY_RESET_URL", "/reset", ""),
            Route::ResetToken => Place::Key("SECURITY_RESET_URL", "/reset", "{token}"),
            Route::TfSetup => Place::Key("SECURITY_TWO_FACTOR_SETUP_URL", "/tf-setup", ""),
            Route::TfSetupToken => {
                Place::Key("SECURITY_TWO_FACTOR_SETUP_URL", "/tf-setup", "{token}")
            }
            Route::TfValidate => Place::Key(
                "SECURITY_TWO_FACTOR_TOKEN_VALIDATION_URL",
                "/tf-validate",
                "",
            ),
            Route::TfRescue => Place::Key("SECURITY_TWO_FACTOR_RESCUE_URL", "/tf-rescue", ""),
            Route::TfSelect => Place::Key("SECURITY_TWO_FACTOR_SELECT_URL", "/tf-select", ""),
            Route::MfRecoveryCodes => Place::Key(
                "SECURITY_MULTI_FACTOR_RECOVERY_CODES_URL",
                "/mf-recovery-codes",
                "",
            ),
            Route::MfRecovery => {
                Place::Key("SECURITY_MULTI_FACTOR_RECOVERY_URL", "/mf-recovery", "")
            }
            Route::UsSignin => Place::Key("SECURITY_US_SIGNIN_URL", "/us-signin", ""),
            Route::UsSigninSendCode => Place::Key(
                "SECURITY_US_SIGNIN_SEND_CODE_URL",
                "/us-signin/send-code",
                "",
            ),
            Route::UsSetup => Place::Key("SECURITY_US_SETUP_URL", "/us-setup", ""),
            Route::UsSetupState => Place::Key("SECURITY_US_SETUP_URL", "/us-setup", "{state}"),
            Route::UsVerify => Place::Key("SECURITY_US_VERIFY_URL", "/us-verify", ""),
            Route::UsVerifySendCode => Place::Key(
                "SECURITY_US_VERIFY_SEND_CODE_URL",
                "/us-verify/send-code",
                "",
            ),
            Route::UsVerifyLink => Place::Key("SECURITY_US_VERIFY_LINK_URL", "/us-verify-link", ""),
            Route::WanRegister => Place::Key("SECURITY_WAN_REGISTER_URL", "/wan-register", ""),
            Route::WanRegisterState => {
                Place::Key("SECURITY_WAN_REGISTER_URL", "/wan-register", "{state}")
            }
            Route::WanDelete => Place::Key("SECURITY_WAN_DELETE_URL", "/wan-delete", ""),
            Route::WanSignin => Place::Key("SECURITY_WAN_SIGNIN_URL", "/wan-signin", ""),
            Route::WanSigninState => {
                Place::Key("SECURITY_WAN_SIGNIN_URL", "/wan-signin", "{state}")
            }
            Route::WanVerify => Place::Key("SECURITY_WAN_VERIFY_URL", "/wan-verify", ""),
            Route::WanVerifyState => {
                Place::Key("SECURITY_WAN_VERIFY_URL", "/wan-verify", "{state}")
            }
            Route::WanSignup => Place::Prefixed("/wan-signup"),
            Route::WanSignupState => Place::Prefixed("/wan-signup/{state}"),
            Route::Change => Place::Key("SECURITY_CHANGE_URL", "/change", ""),
            Route::RefreshToken => Place::Key("SECURITY_REFRESH_TOKEN_URL", "/refresh-token", ""),
            Route::ChangeEmail => Place::Key("SECURITY_CHANGE_EMAIL_URL", "/change-email", ""),
            Route::ChangeEmailToken => {
                Place::Key("SECURITY_CHANGE_EMAIL_URL", "/change-email", "{token}")
            }
            Route::ChangeEmailRevert => Place::Key(
                "SECURITY_CHANGE_EMAIL_URL",
                "/change-email",
                "revert/{token}",
            ),
            Route::ChangeUsername => {
                Place::Key("SECURITY_CHANGE_USERNAME_URL", "/change-username", "")
            }
            Route::RecoverUsername => {
                Place::Key("SECURITY_USERNAME_RECOVERY_URL", "/recover-username", "")
            }
            Route::OauthStart => {
                Place::Key("SECURITY_OAUTH_START_URL", "/login/oauthstart", "{name}")
            }
            Route::OauthResponse => Place::Key(
                "SECURITY_OAUTH_RESPONSE_URL",
                "/login/oauthresponse",
                "{name}",
            ),
            Route::OauthVerifyStart => Place::Key(
                "SECURITY_OAUTH_VERIFY_START_URL",
                "/login/oauth-verify-start",
                "{name}",
            ),
            Route::OauthVerifyResponse => Place::Key(
                "SECURITY_OAUTH_VERIFY_RESPONSE_URL",
                "/login/oauth-verify-response",
                "{name}",
            ),
            Route::OauthLink => Place::Prefixed("/oauth-link/{name}"),
            Route::OauthUnlink => Place::Prefixed("/oauth-unlink"),
            Route::OidcDiscovery => Place::Root("/.well-known/openid-configuration"),
            Route::OidcJwks => Place::Prefixed("/oidc/jwks"),
            Route::OidcAuthorize => Place::Prefixed("/oidc/authorize"),
            Route::OidcToken => Place::Prefixed("/oidc/token"),
            Route::OidcUserinfo => Place::Prefixed("/oidc/userinfo"),
            Route::OidcRevoke => Place::Prefixed("/oidc/revoke"),
            Route::OidcIntrospect => Place::Prefixed("/oidc/introspect"),
            Route::OidcLogout => Place::Prefixed("/oidc/logout"),
            Route::OidcApps => Place::Prefixed("/apps"),
            Route::OidcAppsRevoke => Place::Prefixed("/apps/revoke"),
            Route::Favicon => Place::Root("/favicon.ico"),
            Route::Static => Place::Key("SECURITY_STATIC_FOLDER_URL", "/static", ""),
            Route::StaticFile => Place::Key("SECURITY_STATIC_FOLDER_URL", "/static", "{name}"),
        }
    }
}

/// Where a [`Route`] is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// At this path whatever the settings: the host app's pages, the health check, the icon.
    Root(&'static str),
    /// At this path under `SECURITY_URL_PREFIX`: Latchkey's own routes, which Flask-Security
    /// has no key for.
    Prefixed(&'static str),
    /// Under `SECURITY_URL_PREFIX`, at the value of a Flask-Security key (its full name;
    /// then its default value, Flask-Security's, except `/static` for
    /// `SECURITY_STATIC_FOLDER_URL`), followed by a last part (a `{…}` segment, or nothing),
    /// joined as Flask-Security joins them: with a `/` unless the key's value ends with one.
    Key(&'static str, &'static str, &'static str),
}

/// The number of routes.
const COUNT: usize = Route::ALL.len();

/// The paths of every route for one configuration: Flask-Security's `SECURITY_URL_PREFIX`
/// and `SECURITY_*_URL` keys applied to [`Route::place`]. A small `Copy` value: tables are
/// made once per configuration and kept for the life of the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Urls(&'static [&'static str; COUNT]);

impl Default for Urls {
    /// The paths with no key set: Flask-Security's defaults.
    fn default() -> Self {
        static DEFAULT: std::sync::OnceLock<Urls> = std::sync::OnceLock::new();
        *DEFAULT.get_or_init(|| Self::new("", &[]))
    }
}

impl Urls {
    /// The table for `prefix` (`SECURITY_URL_PREFIX`: empty, or starting with `/` and not
    /// ending with one) and `keys` (a key's full name and its value; a key not given keeps
    /// its default). The values are taken as given: the settings check them.
    pub fn new(prefix: &str, keys: &[(&str, String)]) -> Self {
        let value = |key: &str, default: &'static str| {
            keys.iter()
                .find(|(k, _)| *k == key)
                .map_or(default, |(_, v)| v.as_str())
        };
        let paths: Vec<String> = Route::ALL
            .iter()
            .map(|route| match route.place() {
                Place::Root(path) => path.to_owned(),
                Place::Prefixed(path) => format!("{prefix}{path}"),
                Place::Key(key, default, "") => format!("{prefix}{}", value(key, default)),
                Place::Key(key, default, rest) => {
                    let base = value(key, default);
                    let slash = if base.ends_with('/') { "" } else { "/" };
                    format!("{prefix}{base}{slash}{rest}")
                }
            })
            .collect();
        Self(intern(paths))
    }

    /// The route's path, as actix routes it: `{…}` marks a segment that varies.
    pub fn path(self, route: Route) -> &'static str {
        self.0[route as usize]
    }

    /// Two routes that would share one path (a key set to another's value, say): the first
    /// pair found. The app and `latchkey config urls` refuse such a table with its message.
    pub fn clash(self) -> Option<Clash> {
        for (i, a) in Route::ALL.iter().enumerate() {
            for b in &Route::ALL[i + 1..] {
                if self.path(*a) == self.path(*b) {
                    return Some(Clash(*a, *b, self.path(*a)));
                }
            }
        }
        None
    }

    /// The path with its `{…}` segment replaced by `token` (e.g. `/confirm/abc` for
    /// [`Route::ConfirmToken`]); a route without one gets `token` as a last segment.
    pub fn with_token(self, route: Route, token: &str) -> String {
        let path = self.path(route);
        match path.rfind("/{") {
            Some(i) if path.ends_with('}') => format!("{}/{token}", &path[..i]),
            _ => format!("{}/{token}", path.trim_end_matches('/')),
        }
    }

    /// The path followed by a query string (`/login?next=…`); `query` is used as given.
    pub fn with_query(self, route: Route, query: &str) -> String {
        format!("{}?{query}", self.path(route))
    }

    /// The path with `?next=` (percent-encoded) when there is a `next`, else the bare path:
    /// where a page sends the browser on and back.
    pub fn with_next(self, route: Route, next: Option<&str>) -> String {
        match next {
            Some(next) => self.with_query(
                route,
                &format!(
                    "next={}",
                    percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC)
                ),
            ),
            None => self.path(route).to_owned(),
        }
    }

    /// The path without its varying last segment (`/login/oauthstart` for
    /// [`Route::OauthStart`]): what Flask-Security's `SECURITY_*_URL` keys name.
    pub fn base(self, route: Route) -> &'static str {
        let path = self.path(route);
        match path.rfind("/{") {
            Some(i) if i > 0 && path.ends_with('}') => &path[..i],
            _ => path,
        }
    }

    /// Whether `path` lies under this route's path (`/static/x` under [`Route::Static`]),
    /// not counting the route's own path.
    pub fn encloses(self, route: Route, path: &str) -> bool {
        path.strip_prefix(self.path(route).trim_end_matches('/'))
            .is_some_and(|rest| rest.starts_with('/') && rest.len() > 1)
    }
}

/// The table holding `paths`: an equal one made before, or a new one kept for the life of
/// the process (one per configuration: a handful in a test run, one in a server).
fn intern(paths: Vec<String>) -> &'static [&'static str; COUNT] {
    static TABLES: std::sync::Mutex<Vec<&'static [&'static str; COUNT]>> =
        std::sync::Mutex::new(Vec::new());
    let mut tables = TABLES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(table) = tables
        .iter()
        .find(|t| t.iter().zip(&paths).all(|(a, b)| *a == b))
    {
        return table;
    }
    let leaked: Vec<&'static str> = paths
        .into_iter()
        .map(|p| &*Box::leak(p.into_boxed_str()))
        .collect();
    let table: &'static [&'static str; COUNT] = match <[&'static str; COUNT]>::try_from(leaked) {
        Ok(array) => Box::leak(Box::new(array)),
        Err(_) => unreachable!("one path per route"),
    };
    tables.push(table);
    table
}

/// Two routes at one path: [`Urls::clash`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clash(pub Route, pub Route, pub &'static str);

impl std::fmt::Display for Clash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Clash(a, b, path) = self;
        write!(
            f,
            "{a:?} and {b:?} would both be served at {path}: set their keys apart"
        )
    }
}

/// Every key [`Route::place`] names, once each, with its default value, in route order.
pub fn path_keys() -> Vec<(&'static str, &'static str)> {
    let mut keys: Vec<(&'static str, &'static str)> = Vec::new();
    for route in Route::ALL {
        if let Place::Key(key, default, _) = route.place() {
            if !keys.iter().any(|(k, _)| *k == key) {
                keys.push((key, default));
            }
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_listed_once_with_its_own_path() {
        let urls = Urls::default();
        assert_eq!(urls.clash(), None);
        assert!(Route::ALL.iter().all(|r| urls.path(*r).starts_with('/')));
        assert_eq!(urls.path(Route::Login), "/login");
        assert_eq!(urls.path(Route::StaticFile), "/static/{name}");
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
    fn a_key_moves_its_routes_and_the_prefix_moves_all_but_the_apps_own() {
        let keys = [
            ("SECURITY_LOGIN_URL", "/signin".to_owned()),
            ("SECURITY_CONFIRM_URL", "/confirm-here/".to_owned()),
            ("SECURITY_CHANGE_EMAIL_URL", "/email".to_owned()),
        ];
        let urls = Urls::new("/auth", &keys);
        assert_eq!(urls.path(Route::Login), "/auth/signin");
        assert_eq!(urls.path(Route::Logout), "/auth/logout");
        assert_eq!(urls.path(Route::Sessions), "/auth/sessions");
        // Flask-Security's _slash_url_suffix: no second slash after a value ending with one.
        assert_eq!(urls.path(Route::ConfirmToken), "/auth/confirm-here/{token}");
        assert_eq!(
            urls.with_token(Route::ConfirmToken, "t"),
            "/auth/confirm-here/t"
        );
        assert_eq!(
            urls.path(Route::ChangeEmailRevert),
            "/auth/email/revert/{token}"
        );
        assert_eq!(urls.path(Route::Home), "/");
        assert_eq!(urls.path(Route::Profile), "/profile");
        assert_eq!(urls.path(Route::Favicon), "/favicon.ico");
        assert_eq!(urls.base(Route::OauthStart), "/auth/login/oauthstart");
        // The same configuration is the same table.
        assert_eq!(urls, Urls::new("/auth", &keys));
        assert_ne!(urls, Urls::default());
    }

    #[test]
    fn a_key_set_to_another_routes_path_is_a_clash() {
        let urls = Urls::new("", &[("SECURITY_LOGIN_URL", "/us-signin".to_owned())]);
        assert_eq!(
            urls.clash(),
            Some(Clash(Route::Login, Route::UsSignin, "/us-signin"))
        );
    }

    #[test]
    fn tokens_fill_the_varying_segment() {
        let urls = Urls::default();
        assert_eq!(urls.with_token(Route::ConfirmToken, "abc"), "/confirm/abc");
        assert_eq!(
            urls.with_token(Route::ChangeEmailRevert, "t"),
            "/change-email/revert/t"
        );
        assert_eq!(
            urls.with_token(Route::StaticFile, "latchkey.css"),
            "/static/latchkey.css"
        );
        assert_eq!(urls.with_token(Route::Static, "x.js"), "/static/x.js");
        assert_eq!(urls.with_query(Route::Login, "next=%2F"), "/login?next=%2F");
    }

    #[test]
    fn paths_under_a_route_exclude_the_route_itself() {
        let urls = Urls::default();
        assert!(urls.encloses(Route::Static, "/static/latchkey.css"));
        assert!(!urls.encloses(Route::Static, "/static"));
        assert!(!urls.encloses(Route::Static, "/static/"));
        assert!(!urls.encloses(Route::Static, "/statics/x"));
    }
}
