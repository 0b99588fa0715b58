//! The rate limits of the forms that send mail (register, reset, confirm).

/// Rate limit of a mail-sending form (`auth::throttle::rate_limit`) for the typed target
/// `address`, from this client: 429 once either count is used up.
pub async fn rate_limit(
    web: &crate::web::Web,
    action: crate::auth::throttle::Action,
    address: &str,
) -> Result<(), crate::web::AppError> {
    use crate::auth::throttle;
    let settings = web.settings();
    let limits = &settings.rate_limits;
    let limit = match action {
        throttle::Action::Register => limits.register,
        throttle::Action::Reset => limits.reset,
        throttle::Action::Confirm => limits.confirm,
    };
    let subject = throttle::typed_subject(&settings.secret_key, address);
    let ip = crate::web::signin::client_key(web);
    match throttle::rate_limit(&web.state.db, action, limit, limits.window, subject, ip).await? {
        None => Ok(()),
        Some(retry_after) => {
            tracing::warn!(
                event = "rate_limited",
                action = ?action,
                ip = %crate::web::signin::client_key(web),
                retry_after = retry_after.as_secs(),
                "request refused: rate limit"
            );
            Err(crate::web::AppError::TooManyAttempts { retry_after })
        }
    }
}
