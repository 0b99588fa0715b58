//! Each factor's way into the login state machine: its check (counted by the throttle),
//! the audit of a refusal (a log line and a security event, never what was typed), and on
//! success the machine's next [`Step`]. A sign-in handler makes exactly one of these calls.

use super::{first_factor_proved, second_factor_proved, Asked, Browser, FirstFactor, Step};
use super::{PendingLogin, PASSKEY_METHOD};
use crate::auth::authenticate::{self, Attempt, Refused};
use crate::auth::confirmable::{self, ConfirmOutcome};
use crate::auth::error::ServiceError;
use crate::auth::events::{LoginMethod, SecurityEvent};
use crate::auth::passkeys::{self, Purpose, Rejected};
use crate::auth::recoverable;
use crate::auth::services::Services;
use crate::auth::two_factor::{self, Via};
use crate::auth::unified::{self, Refusal};
use crate::config::{TwoFactorMethod, UsMethod};
use crate::db::models::User;
use crate::domain::FormErrors;

/// A sign-in's outcome: the next step, or why it was refused, or throttled.
pub type Outcome<R = ()> = Attempt<Step, R>;

/// `POST /login`: an email or username and its password.
pub async fn password(
    services: &Services,
    browser: &Browser,
    identity: &str,
    password: &str,
    asked: Asked,
) -> Result<Outcome<Refused>, ServiceError> {
    let key = browser.key();
    match authenticate::login_with_password(services, identity, password, &key).await? {
        Attempt::Proved(user) => {
            let first = FirstFactor {
                user: *user,
                method: LoginMethod::Password,
                proves_both: false,
            };
            let step = first_factor_proved(services, browser, first, asked).await?;
            Ok(Attempt::Proved(step))
        }
        Attempt::Refused(refused) => {
            // Never logs what was typed: neither the password nor the identity.
            tracing::info!(
                event = "login_failed",
                reason = ?refused.failure,
                user_id = refused.user_id,
                ip = %key,
                "login failed"
            );
            let event = SecurityEvent::LoginFailed {
                method: LoginMethod::Password,
                reason: refused.failure.as_str().to_owned(),
            };
            services.emit(event, refused.user_id, &browser.client);
            Ok(Attempt::Refused(refused))
        }
        Attempt::Throttled { retry_after } => Ok(Attempt::Throttled { retry_after }),
    }
}

/// `POST /us-signin`: unified sign-in's password or code. A second factor is still asked
/// after the methods in `SECURITY_US_MFA_REQUIRED` (by default the password and a mailed
/// code).
pub async fn passcode(
    services: &Services,
    browser: &Browser,
    identity: &str,
    passcode: &str,
    asked: Asked,
) -> Result<Outcome<Refusal>, ServiceError> {
    let key = browser.key();
    let checked = unified::sign_in(services, identity, passcode, &key).await?;
    unified_proved(
        services,
        browser,
        checked,
        asked,
        LoginMethod::UnifiedSignin,
    )
    .await
}

/// `/us-verify-link`: the link in a code mail.
pub async fn link(
    services: &Services,
    browser: &Browser,
    id: &str,
    code: &str,
) -> Result<Outcome<Refusal>, ServiceError> {
    let key = browser.key();
    let checked = unified::check_link(services, id, code, &key).await?;
    unified_proved(
        services,
        browser,
        checked,
        Asked::default(),
        LoginMethod::Code,
    )
    .await
}

/// A unified sign-in's check, on into the machine (or audited as refused, as `refused_as`).
async fn unified_proved(
    services: &Services,
    browser: &Browser,
    checked: unified::SigninOutcome,
    asked: Asked,
    refused_as: LoginMethod,
) -> Result<Outcome<Refusal>, ServiceError> {
    match checked {
        Attempt::Proved((user, method)) => {
            tracing::info!(
                event = "us_signin",
                user_id = user.id,
                method = method.as_str(),
                "unified sign-in proved"
            );
            let first = FirstFactor {
                user: *user,
                method: match method {
                    UsMethod::Password => LoginMethod::UnifiedSignin,
                    _ => LoginMethod::Code,
                },
                proves_both: !services
                    .settings
                    .unified_signin
                    .mfa_required
                    .contains(&method),
            };
            let step = first_factor_proved(services, browser, first, asked).await?;
            Ok(Attempt::Proved(step))
        }
        Attempt::Refused(refusal) => {
            tracing::info!(event = "us_signin_failed", ip = %browser.key(), reason = ?refusal,
                "unified sign-in refused");
            let event = SecurityEvent::LoginFailed {
                method: refused_as,
                reason: refusal.reason().to_owned(),
            };
            services.emit(event, None, &browser.client);
            Ok(Attempt::Refused(refusal))
        }
        Attempt::Throttled { retry_after } => Ok(Attempt::Throttled { retry_after }),
    }
}

/// A passkey's answer (`POST /wan-signin/<state>`), with the ceremony it answers.
pub struct PasskeyAnswer<'a> {
    pub token: &'a str,
    pub binding: &'a str,
    pub credential: &'a str,
}

/// A passkey: the first factor (logging in, through the second factor when the account has
/// one and the passkey did not verify its user), or the second factor of `pending`.
pub async fn passkey(
    services: &Services,
    browser: &Browser,
    pending: Option<(PendingLogin, User)>,
    answer: PasskeyAnswer<'_>,
    asked: Asked,
) -> Result<Outcome<Rejected>, ServiceError> {
    let (purpose, expected) = match &pending {
        Some((_, user)) => (Purpose::SecondFactor, Some(user.id)),
        None => (Purpose::SignIn, None),
    };
    let key = browser.key();
    let proof = passkeys::finish_authentication(
        services,
        purpose,
        expected,
        answer.token,
        answer.binding,
        answer.credential,
        &key,
    )
    .await?;
    let proved = match proof {
        Attempt::Proved(proved) => proved,
        Attempt::Refused(rejected) => {
            tracing::info!(event = "passkey_signin_failed", user_id = rejected.user_id,
                ip = %key, reason = ?rejected.refusal, "passkey sign-in refused");
            let event = SecurityEvent::LoginFailed {
                method: LoginMethod::Passkey,
                reason: "invalid_passkey".to_owned(),
            };
            services.emit(event, rejected.user_id, &browser.client);
            return Ok(Attempt::Refused(rejected));
        }
        Attempt::Throttled { retry_after } => return Ok(Attempt::Throttled { retry_after }),
    };
    let step = match pending {
        Some((pending, user)) => {
            second_factor_proved(services, browser, &pending, &user, PASSKEY_METHOD, false).await?
        }
        None => {
            // A passkey that verified its user (PIN, biometrics) is two factors in one.
            let first = FirstFactor {
                user: *proved.user,
                method: LoginMethod::Passkey,
                proves_both: proved.user_verified
                    && services.settings.webauthn.allow_as_multi_factor,
            };
            first_factor_proved(services, browser, first, asked).await?
        }
    };
    Ok(Attempt::Proved(step))
}

/// `POST /tf-validate`: the code of `pending`'s second factor, or a code mailed through the
/// rescue.
pub async fn code(
    services: &Services,
    browser: &Browser,
    pending: &PendingLogin,
    user: &User,
    code: &str,
    remember_device: bool,
) -> Result<Outcome, ServiceError> {
    let method = pending.method.as_deref().and_then(TwoFactorMethod::parse);
    let key = browser.key();
    let checked = two_factor::check_code(
        services,
        user,
        method,
        pending.sent_code.as_ref(),
        pending.rescue_code.as_ref(),
        code,
        &key,
    )
    .await?;
    let factor = pending.method.clone().unwrap_or_default();
    match checked {
        Attempt::Proved(via) => {
            // What proved it: the second factor, or a code mailed through the rescue.
            let second = match via {
                Via::Rescue => "email",
                Via::SecondFactor => factor.as_str(),
            };
            let step =
                second_factor_proved(services, browser, pending, user, second, remember_device)
                    .await?;
            Ok(Attempt::Proved(step))
        }
        Attempt::Refused(()) => {
            tracing::info!(event = "second_factor_failed", user_id = user.id, ip = %key, "wrong code");
            second_factor_failed(services, browser, user, factor);
            Ok(Attempt::Refused(()))
        }
        Attempt::Throttled { retry_after } => Ok(Attempt::Throttled { retry_after }),
    }
}

/// `POST /mf-recovery`: a recovery code instead of `pending`'s second factor.
pub async fn recovery_code(
    services: &Services,
    browser: &Browser,
    pending: &PendingLogin,
    user: &User,
    code: &str,
) -> Result<Outcome, ServiceError> {
    match two_factor::use_recovery_code(services, user, code, &browser.key()).await? {
        Attempt::Proved(()) => {
            tracing::info!(
                event = "recovery_code_used",
                user_id = user.id,
                "recovery code used"
            );
            let step =
                second_factor_proved(services, browser, pending, user, "recovery_code", false)
                    .await?;
            Ok(Attempt::Proved(step))
        }
        Attempt::Refused(()) => {
            second_factor_failed(services, browser, user, "recovery_code".to_owned());
            Ok(Attempt::Refused(()))
        }
        Attempt::Throttled { retry_after } => Ok(Attempt::Throttled { retry_after }),
    }
}

fn second_factor_failed(services: &Services, browser: &Browser, user: &User, method: String) {
    let event = SecurityEvent::SecondFactorFailed { method };
    services.emit(event, Some(user.id), &browser.client);
}

/// `POST /verify`: a signed-in user's password again (for a fresh login), counted like a
/// login of that account.
pub async fn password_again(
    services: &Services,
    browser: &Browser,
    user: &User,
    password: &str,
) -> Result<Attempt, ServiceError> {
    let key = browser.key();
    let checked = authenticate::reprove_password(services, user, password, &key).await?;
    if checked == Attempt::Refused(()) {
        tracing::info!(
            event = "verify_failed",
            reason = ?authenticate::LoginFailure::InvalidPassword,
            user_id = user.id,
            ip = %key,
            "re-authentication failed"
        );
    }
    Ok(checked)
}

/// `POST /us-verify`: a signed-in user's password or a code of a set-up method again.
pub async fn passcode_again(
    services: &Services,
    browser: &Browser,
    user: &User,
    passcode: &str,
) -> Result<Attempt, ServiceError> {
    unified::reverify(services, user, passcode, &browser.key()).await
}

/// `POST /wan-verify/<state>`: one of a signed-in user's passkeys again.
pub async fn passkey_again(
    services: &Services,
    browser: &Browser,
    user: &User,
    answer: PasskeyAnswer<'_>,
) -> Result<Attempt<(), Rejected>, ServiceError> {
    let key = browser.key();
    let proof = passkeys::finish_authentication(
        services,
        Purpose::Verify,
        Some(user.id),
        answer.token,
        answer.binding,
        answer.credential,
        &key,
    )
    .await?;
    Ok(proof.map(|_| ()))
}

/// What "I cannot use my second factor" did (`POST /tf-rescue`, `help_setup`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rescue {
    /// `email`: a code mailed to the account's address (the pending login now also takes
    /// it; unchanged past the sending budget, when nothing is mailed).
    Mailed,
    /// `help`: the site's support asked (within the sending budget).
    SupportAsked,
    /// `recovery_code`: go on to `/mf-recovery`.
    RecoveryCode,
    /// Anything else.
    NotAvailable,
}

/// The rescue of a pending login whose second factor is out of reach, as `how` asks.
pub async fn rescue(
    services: &Services,
    browser: &Browser,
    pending: &mut PendingLogin,
    user: &User,
    how: &str,
) -> Result<Rescue, ServiceError> {
    let key = browser.key();
    let rescue = match how {
        "email" if services.settings.two_factor.rescue_email => {
            // Past the sending budget nothing is mailed and the code mailed before (if any)
            // stays the one that works.
            if let Some(sent) = two_factor::send_rescue_code(services, user, &key).await? {
                pending.rescue_code = Some(sent);
            }
            tracing::info!(
                event = "two_factor_rescue",
                user_id = user.id,
                how = "email",
                "rescue code mailed"
            );
            Rescue::Mailed
        }
        "help" => {
            two_factor::ask_support(services, user, &key).await?;
            tracing::info!(
                event = "two_factor_rescue",
                user_id = user.id,
                how = "help",
                "support asked"
            );
            Rescue::SupportAsked
        }
        "recovery_code" => Rescue::RecoveryCode,
        _ => Rescue::NotAvailable,
    };
    Ok(rescue)
}

/// `GET /confirm/<token>`: confirms the address; with `SECURITY_AUTO_LOGIN_AFTER_CONFIRM`
/// the link signs in as well (`signed_in_as`: the account this browser is logged in as, which
/// stays as it is), through the machine: a second factor is still asked, as Flask-Security's
/// `tf_enter` does.
pub async fn confirm_link(
    services: &Services,
    browser: &Browser,
    token: &str,
    signed_in_as: Option<i32>,
) -> Result<(ConfirmOutcome, Option<Step>), ServiceError> {
    let outcome = confirmable::confirm(services, token, &browser.client).await?;
    let step = match &outcome {
        ConfirmOutcome::Confirmed(user)
            if services.settings.features.auto_login_after_confirm
                && signed_in_as != Some(user.id) =>
        {
            mailed_link_proved(services, browser, user, LoginMethod::Confirm).await?
        }
        _ => None,
    };
    Ok((outcome, step))
}

/// `POST /reset/<token>`: sets the new password ([`recoverable::reset_from_form`]); with
/// `SECURITY_AUTO_LOGIN_AFTER_RESET` it signs in as well, through the machine (a second
/// factor is still asked).
pub async fn reset_link(
    services: &Services,
    browser: &Browser,
    token: &str,
    (password, password_confirm): (&str, Option<&str>),
) -> Result<Result<Option<(User, Option<Step>)>, FormErrors>, ServiceError> {
    let reset =
        recoverable::reset_from_form(services, token, password, password_confirm, &browser.client)
            .await?;
    let user = match reset {
        Ok(Some(user)) => user,
        Ok(None) => return Ok(Ok(None)),
        Err(errors) => return Ok(Err(errors)),
    };
    let step = if services.settings.features.auto_login_after_reset {
        mailed_link_proved(services, browser, &user, LoginMethod::Reset).await?
    } else {
        None
    };
    Ok(Ok(Some((user, step))))
}

/// A mailed link proved the mailbox, and the settings let it sign in: the first factor, if
/// the account may sign in (active, confirmed where required).
async fn mailed_link_proved(
    services: &Services,
    browser: &Browser,
    user: &User,
    method: LoginMethod,
) -> Result<Option<Step>, ServiceError> {
    if authenticate::may_sign_in(&services.settings.features, user).is_err() {
        return Ok(None);
    }
    let first = FirstFactor {
        user: user.clone(),
        method,
        proves_both: false,
    };
    Ok(Some(
        first_factor_proved(services, browser, first, Asked::default()).await?,
    ))
}
