//! Throttling (ASVS 2.2.1): login delays and the per-account ceiling, and the rate limits of
//! the forms that send mail. Counts live in the database (`auth_attempt`), so every instance
//! sees the same ones. Callable without HTTP.
//!
//! The login rules, for an attempt on account A from address I:
//! 1. **Delay per account and address.** Past `free_attempts` failures of A from I within
//!    the window, each further attempt waits `delay · 2^(n - free_attempts)` (at most
//!    `max_delay`) after the last failure.
//! 2. **Ceiling per account.** Once A has `account_limit` failures within the window from
//!    all addresses together, only addresses A logged in from successfully within
//!    `trusted_ip_for` may try (still under rule 1). The ceiling is checked at start-up to be
//!    out of reach of any single address under rule 1, so one attacker address never
//!    closes the account to its owner's other addresses; many addresses can, for at most the
//!    window after they stop, and the owner still gets in from a known address or through
//!    password reset, which clears the account's failures.
//! 3. **Spraying, per address.** Past `failures_per_ip` failures from I within the window,
//!    on all accounts together, each further attempt from I waits like rule 1 (the delay
//!    doubling from the address's last failure), unless I is an address A logged in from
//!    recently: one address cannot try a password on many accounts.
//! 4. A successful login clears the failures of A from I; a password reset or change clears
//!    every failure of A.
//! 5. **Second factors have a budget of their own, per account.** Wrong second-factor codes,
//!    rescue codes and recovery codes of A are counted under A alone, whatever the address
//!    (`tf_failed`): past `free_attempts` of them within the window, each further code waits
//!    like rule 1, from any address. No known address is exempt, a proved password never
//!    clears them (whoever has the password could otherwise log in again for a fresh
//!    allowance), and only a completed sign-in (a right second factor) does.
//!
//! Addresses are counted by [`client_key`]: IPv6 clients by their /64.
//!
//! Every attempt is counted **before** its credential is checked ([`reserve`]): as a failure,
//! taken back if the credential proves right ([`succeeded`]) or is never judged
//! ([`release`]). Counting after the check would let every request still waiting for its
//! password hash pass the gate without seeing the others. Refused (throttled) attempts check
//! nothing and are not counted: waiting is the only way forward, so the counts stay bounded.

use std::time::Duration;

use chrono::NaiveDateTime;

use crate::config::{ConfigError, LoginThrottle, RateLimits, Secret};
use crate::crypto::{derive_key, keyed_digest};
use crate::db::{self, attempts, Db, DbConnection, DbError};

pub const LOGIN_FAILED: &str = "login_failed";
pub const LOGIN_OK: &str = "login_ok";
/// A wrong second-factor code (rule 5), counted under the account alone.
pub const SECOND_FACTOR_FAILED: &str = "tf_failed";

/// Whose attempts a credential check spends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Budget {
    /// A first factor (password, sign-in code, passkey): rules 1 to 4, under `subject` (an
    /// [`account_subject`], or a [`typed_subject`] for an identity that names no account).
    FirstFactor(String),
    /// A second factor of this account (rule 5).
    SecondFactor(i32),
}

/// The forms that send mail, limited per client address and per target address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Register,
    Reset,
    Confirm,
    /// A unified sign-in code by mail (`/us-signin/send-code`).
    SigninCode,
    /// A confirmation link to a new address (`/change-email`).
    ChangeEmail,
    /// A username reminder (`/recover-username`).
    UsernameRecovery,
}

impl Action {
    /// Every action, each with mail of its own.
    pub const ALL: [Action; 6] = [
        Action::Register,
        Action::Reset,
        Action::Confirm,
        Action::SigninCode,
        Action::ChangeEmail,
        Action::UsernameRecovery,
    ];

    /// Its name in `auth_attempt.action`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Register => "register",
            Action::Reset => "reset",
            Action::Confirm => "confirm",
            Action::SigninCode => "us_code",
            Action::ChangeEmail => "change_email",
            Action::UsernameRecovery => "username_mail",
        }
    }
}

/// The key a client address is counted under: an IPv4 address as it is, an IPv6 address
/// by its /64 network (one subscriber usually holds a whole /64, so counting single
/// addresses would give them 2^64 fresh starts), anything else ("-" for unknown) as it is.
pub fn client_key(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let network = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{network}/64")
            }
        },
        Ok(std::net::IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => ip.to_owned(),
    }
}

/// What counts are kept under for an account: its id, so email and username share one count.
pub fn account_subject(user_id: i32) -> String {
    format!("user:{user_id}")
}

/// What counts are kept under for a typed identity or address that names no account: a keyed
/// digest, so nothing typed (which may be a password) is stored.
pub fn typed_subject(secret: &Secret, typed: &str) -> String {
    let key = derive_key(secret, "throttle");
    keyed_digest(&key, &typed.trim().to_lowercase())
}

/// The wait that rule 1 imposes after `failures` failures (counted within the window).
pub fn pair_wait(policy: &LoginThrottle, failures: usize) -> Option<Duration> {
    let free = policy.free_attempts as usize;
    if failures < free {
        return None;
    }
    // 2^k overflows nothing below 2^31; the cap applies well before.
    let exponent = (failures - free).min(31) as u32;
    let wait = policy
        .delay
        .checked_mul(1u32 << exponent)
        .unwrap_or(policy.max_delay);
    Some(wait.min(policy.max_delay))
}

/// The login decision: `Some(retry_after)` refuses the attempt.
///
/// `pair` and `account` are the failure times within the window (any order) of the account
/// from this address and from every address; `trusted` whether the account logged in from
/// this address recently.
pub fn decide_login(
    policy: &LoginThrottle,
    now: NaiveDateTime,
    pair: &[NaiveDateTime],
    account: &[NaiveDateTime],
    trusted: bool,
) -> Option<Duration> {
    let window = chrono::Duration::from_std(policy.window).unwrap_or(chrono::Duration::MAX);
    let mut wait = chrono::Duration::zero();
    if let (Some(required), Some(last)) = (pair_wait(policy, pair.len()), pair.iter().max()) {
        // Once the last failure leaves the window nothing counts against this address: a
        // delay never outlasts the window.
        let required = chrono::Duration::from_std(required)
            .unwrap_or(chrono::Duration::MAX)
            .min(window);
        wait = wait.max(*last + required - now);
    }
    let limit = policy.account_limit as usize;
    if limit > 0 && !trusted && account.len() >= limit {
        // Open again once enough failures have left the window to fall under the ceiling.
        let mut times = account.to_vec();
        times.sort_unstable();
        let leaving = times[account.len() - limit];
        wait = wait.max(leaving + window - now);
    }
    to_retry_after(wait)
}

/// Rule 3: the wait for an address with `failures` (their times, any order) on all
/// accounts within the window; nothing while it is within `failures_per_ip` (0: no limit).
pub fn decide_spraying(
    policy: &LoginThrottle,
    now: NaiveDateTime,
    failures: &[NaiveDateTime],
) -> Option<Duration> {
    if policy.failures_per_ip == 0 {
        return None;
    }
    let free = LoginThrottle {
        free_attempts: policy.failures_per_ip,
        ..policy.clone()
    };
    let required = pair_wait(&free, failures.len())?;
    let last = failures.iter().max()?;
    let window = to_chrono(policy.window);
    let required = chrono::Duration::from_std(required)
        .unwrap_or(chrono::Duration::MAX)
        .min(window);
    to_retry_after(*last + required - now)
}

/// A positive wait as whole seconds (at least one); nothing when there is none.
fn to_retry_after(wait: chrono::Duration) -> Option<Duration> {
    let millis = wait.num_milliseconds();
    (millis > 0).then(|| Duration::from_secs((millis as u64).div_ceil(1000).max(1)))
}

/// The most failures a single address can make within any one window under rule 1, when it
/// tries as soon as allowed (simulated second by second over three windows).
pub fn max_failures_per_ip(policy: &LoginThrottle) -> usize {
    let window = policy.window.as_secs().max(1);
    let mut failures: std::collections::VecDeque<u64> = Default::default();
    let mut most = 0;
    for t in 0..window.saturating_mul(3) {
        while failures.front().is_some_and(|f| t - f >= window) {
            failures.pop_front();
        }
        loop {
            let allowed = match (pair_wait(policy, failures.len()), failures.back()) {
                (Some(wait), Some(last)) => t >= last + wait.as_secs(),
                _ => true,
            };
            if !allowed {
                break;
            }
            failures.push_back(t);
            most = most.max(failures.len());
            // A policy without delays (never valid: SECURITY_LOGIN_DELAY >= 1 s) has no bound.
            if most > 1_000_000 {
                return most;
            }
        }
    }
    most
}

/// The throttle's own check of its settings, at start-up: one address alone must never
/// reach the account ceiling, or a single attacker could keep the account closed to every
/// new address of its owner.
pub fn check_policy(policy: &LoginThrottle) -> Result<(), ConfigError> {
    let one_ip = max_failures_per_ip(policy);
    if policy.account_limit != 0 && (policy.account_limit as usize) <= one_ip {
        return Err(ConfigError::new(
            "SECURITY_LOGIN_ACCOUNT_LIMIT",
            format!(
                "must be 0 (no ceiling) or more than {one_ip}, the most failures one address \
                 can make within SECURITY_LOGIN_WINDOW under the delays configured"
            ),
        ));
    }
    Ok(())
}

/// Where a credential check stands before the credential is looked at.
#[derive(Debug)]
pub enum Gate {
    /// Go ahead: the attempt is already counted as a failure, and the reservation says how
    /// it really ended once the check is done.
    Open(Reservation),
    Throttled {
        retry_after: Duration,
    },
}

/// An attempt counted before its credential was checked. Left alone it stays a failure
/// (the conservative outcome when, say, the client goes away during the check);
/// [`succeeded`] and [`release`] take it back.
#[derive(Debug)]
#[must_use = "a reservation counts as a failure until it is settled"]
pub struct Reservation {
    /// Which count it is in: [`LOGIN_FAILED`] or [`SECOND_FACTOR_FAILED`].
    action: &'static str,
    subject: String,
    ip: String,
    id: i64,
}

/// The rules for an attempt on `budget` from `ip`, and the attempt counted as a failure if
/// they let it through: both in one exclusive transaction per subject, so that however many
/// attempts arrive at once, on however many instances, each sees those before it. One
/// address thus gets at most the free attempts checked at once, then waits.
pub async fn reserve(
    db: &Db,
    policy: &LoginThrottle,
    budget: Budget,
    ip: String,
) -> Result<Gate, DbError> {
    match budget {
        Budget::FirstFactor(subject) => reserve_first_factor(db, policy, subject, ip).await,
        Budget::SecondFactor(user_id) => reserve_second_factor(db, policy, user_id, ip).await,
    }
}

/// Rules 1 to 3.
async fn reserve_first_factor(
    db: &Db,
    policy: &LoginThrottle,
    subject: String,
    ip: String,
) -> Result<Gate, DbError> {
    let policy = policy.clone();
    db.run(move |conn| {
        // Both counts this attempt is judged by: the account's and the address's.
        let (account_lock, ip_lock) = (format!("throttle:{subject}"), format!("throttle-ip:{ip}"));
        db::exclusive_transaction(conn, &[&account_lock, &ip_lock], |conn| {
            let now = db::now();
            let since = now - to_chrono(policy.window);
            let failures = attempts::since(conn, LOGIN_FAILED, &subject, since)?;
            let pair: Vec<NaiveDateTime> = failures
                .iter()
                .filter(|(from, _)| *from == ip)
                .map(|(_, at)| *at)
                .collect();
            let account: Vec<NaiveDateTime> = failures.iter().map(|(_, at)| *at).collect();
            let trusted =
                policy.account_limit > 0 && account.len() >= policy.account_limit as usize;
            let known = |conn: &mut DbConnection| {
                attempts::exists(
                    conn,
                    LOGIN_OK,
                    &subject,
                    &ip,
                    now - to_chrono(policy.trusted_ip_for),
                )
            };
            let trusted = trusted && known(conn)?;
            if let Some(retry_after) = decide_login(&policy, now, &pair, &account, trusted) {
                return Ok(Gate::Throttled { retry_after });
            }
            // Rule 3: this address's failures on every account.
            let from_ip = attempts::times_from(conn, LOGIN_FAILED, &ip, since)?;
            if let Some(retry_after) = decide_spraying(&policy, now, &from_ip) {
                if !known(conn)? {
                    return Ok(Gate::Throttled { retry_after });
                }
            }
            let id = attempts::insert_returning_id(conn, LOGIN_FAILED, &subject, &ip, now)?;
            attempts::prune(conn, LOGIN_FAILED, since)?;
            attempts::prune(conn, LOGIN_OK, now - to_chrono(policy.trusted_ip_for))?;
            Ok(Gate::Open(Reservation {
                action: LOGIN_FAILED,
                subject,
                ip,
                id,
            }))
        })
    })
    .await
}

/// Rule 5: every failure of the account's second factor counts, from any address, with no
/// exemption; the delays are rule 1's.
async fn reserve_second_factor(
    db: &Db,
    policy: &LoginThrottle,
    user_id: i32,
    ip: String,
) -> Result<Gate, DbError> {
    let policy = policy.clone();
    let subject = account_subject(user_id);
    db.run(move |conn| {
        let lock = format!("throttle-tf:{subject}");
        db::exclusive_transaction(conn, &[&lock], |conn| {
            let now = db::now();
            let since = now - to_chrono(policy.window);
            let failures: Vec<NaiveDateTime> =
                attempts::since(conn, SECOND_FACTOR_FAILED, &subject, since)?
                    .into_iter()
                    .map(|(_, at)| at)
                    .collect();
            if let Some(retry_after) = decide_login(&policy, now, &failures, &failures, false) {
                return Ok(Gate::Throttled { retry_after });
            }
            let id = attempts::insert_returning_id(conn, SECOND_FACTOR_FAILED, &subject, &ip, now)?;
            attempts::prune(conn, SECOND_FACTOR_FAILED, since)?;
            Ok(Gate::Open(Reservation {
                action: SECOND_FACTOR_FAILED,
                subject,
                ip,
                id,
            }))
        })
    })
    .await
}

/// A proved credential. A first factor clears this address's failures on the account (the
/// reservation among them) and remembers the address as known (rules 1 and 4); a second
/// factor completes a sign-in and clears every second-factor failure of the account (rule
/// 5), never the first factor's.
pub async fn succeeded(db: &Db, reservation: Reservation) -> Result<(), DbError> {
    let Reservation {
        action,
        subject,
        ip,
        ..
    } = reservation;
    db.run(move |conn| {
        if action == SECOND_FACTOR_FAILED {
            return attempts::delete_subject(conn, SECOND_FACTOR_FAILED, &subject);
        }
        attempts::delete_pair(conn, LOGIN_FAILED, &subject, &ip)?;
        attempts::delete_pair(conn, LOGIN_OK, &subject, &ip)?;
        attempts::insert(conn, LOGIN_OK, &subject, &ip, db::now())
    })
    .await
}

/// A wrong credential: the reservation stays, as the failure it was counted as.
pub fn failed(reservation: Reservation) {
    let _counted = reservation;
}

/// Takes back an attempt whose credential was never judged (the hash queue was full, the
/// database failed), or that proved a credential for an account that may not log in: it
/// counts neither way.
pub async fn release(db: &Db, reservation: Reservation) -> Result<(), DbError> {
    db.run(move |conn| attempts::delete_by_id(conn, reservation.id))
        .await
}

/// Rule 3 for a password reset or change: every failure of the account is forgotten.
pub fn clear_account(conn: &mut DbConnection, user_id: i32) -> Result<(), DbError> {
    attempts::delete_subject(conn, LOGIN_FAILED, &account_subject(user_id))
}

/// What a mail-sending request may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailAllowance {
    /// Send the mail (the request is counted).
    Send,
    /// Answer exactly as usual, but send nothing: this client already asked for this
    /// address as often as it may, or the address had its share of mail this window and
    /// this client is not one its account logged in from.
    Quiet,
    /// This client sent too many requests of this kind, whatever the addresses: 429.
    Refused { retry_after: Duration },
}

/// Whether a request of `action` from `ip` for the address `target` (a [`typed_subject`])
/// may send its mail, counting it if so. The limits protect the mailbox without ever
/// letting a stranger use up the owner's allowance: the count per address is kept per
/// client, and the cap on all mail to an address spares the clients its account logged in
/// from (`account`, when the address has one). Check and count are one exclusive
/// transaction, so several instances cannot overshoot.
pub async fn mail_allowance(
    db: &Db,
    limits: &RateLimits,
    trusted_ip_for: Duration,
    action: Action,
    target: String,
    account: Option<i32>,
    ip: String,
) -> Result<MailAllowance, DbError> {
    let limit = match action {
        Action::Register => limits.register,
        Action::Reset => limits.reset,
        Action::Confirm => limits.confirm,
        Action::SigninCode => limits.signin_code,
        Action::ChangeEmail => limits.change_email,
        Action::UsernameRecovery => limits.username_recovery,
    };
    let (window, mailbox) = (limits.window, limits.mailbox);
    db.run(move |conn| {
        let (target_lock, ip_lock) = (format!("mail:{target}"), format!("mail-ip:{ip}"));
        db::exclusive_transaction(conn, &[&target_lock, &ip_lock], |conn| {
            let now = db::now();
            let window = to_chrono(window);
            let since = now - window;
            let kind = action.as_str();
            let from_ip = attempts::times_from(conn, kind, &ip, since)?;
            if let Some(retry_after) = over_limit(limit.per_ip, from_ip, window, now) {
                return Ok(MailAllowance::Refused { retry_after });
            }
            let for_target = attempts::since(conn, kind, &target, since)?;
            let this_client = for_target.iter().filter(|(from, _)| *from == ip).count();
            if limit.per_address > 0 && this_client >= limit.per_address as usize {
                return Ok(MailAllowance::Quiet);
            }
            if mailbox > 0 {
                let mut sent = 0;
                for other in Action::ALL {
                    sent += attempts::since(conn, other.as_str(), &target, since)?.len();
                }
                let mut known = || match account {
                    Some(id) => attempts::exists(
                        conn,
                        LOGIN_OK,
                        &account_subject(id),
                        &ip,
                        now - to_chrono(trusted_ip_for),
                    ),
                    None => Ok(false),
                };
                if sent >= mailbox as usize && !known()? {
                    return Ok(MailAllowance::Quiet);
                }
            }
            attempts::insert(conn, kind, &target, &ip, now)?;
            attempts::prune(conn, kind, since)?;
            Ok(MailAllowance::Send)
        })
    })
    .await
}

/// The wait before the oldest of `times` leaves the window, when there are `limit` or more
/// (0: no limit).
pub fn over_limit(
    limit: u32,
    mut times: Vec<NaiveDateTime>,
    window: chrono::Duration,
    now: NaiveDateTime,
) -> Option<Duration> {
    let limit = limit as usize;
    if limit == 0 || times.len() < limit {
        return None;
    }
    times.sort_unstable();
    to_retry_after(times[times.len() - limit] + window - now)
}

fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_name_fits_the_action_column() {
        // auth_attempt.action is VARCHAR(16) on PostgreSQL (SQLite would not complain).
        for action in Action::ALL {
            assert!(action.as_str().len() <= 16, "{action:?}");
        }
        for fixed in [LOGIN_FAILED, LOGIN_OK] {
            assert!(fixed.len() <= 16, "{fixed}");
        }
    }

    fn policy() -> LoginThrottle {
        LoginThrottle {
            free_attempts: 5,
            delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(900),
            window: Duration::from_secs(3600),
            account_limit: 30,
            trusted_ip_for: Duration::from_secs(30 * 86_400),
            failures_per_ip: 20,
        }
    }

    fn at(secs: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000 + secs, 0)
            .unwrap()
            .naive_utc()
    }

    #[test]
    fn delays_start_after_the_free_attempts_and_double() {
        let p = policy();
        assert_eq!(pair_wait(&p, 4), None);
        assert_eq!(pair_wait(&p, 5), Some(Duration::from_secs(1)));
        assert_eq!(pair_wait(&p, 6), Some(Duration::from_secs(2)));
        assert_eq!(pair_wait(&p, 9), Some(Duration::from_secs(16)));
        assert_eq!(pair_wait(&p, 40), Some(Duration::from_secs(900)));
        assert_eq!(pair_wait(&p, 10_000), Some(Duration::from_secs(900)));
    }

    #[test]
    fn an_attempt_waits_for_the_delay_after_the_last_failure() {
        let p = policy();
        let pair: Vec<_> = (0..7).map(at).collect();
        // 7 failures: 4 s after the last one (at 6 s).
        assert_eq!(
            decide_login(&p, at(7), &pair, &pair, false),
            Some(Duration::from_secs(3))
        );
        assert_eq!(decide_login(&p, at(10), &pair, &pair, false), None);
        assert_eq!(decide_login(&p, at(7), &pair[..4], &pair, false), None);
        // A delay longer than the window ends with the window.
        let short = LoginThrottle {
            window: Duration::from_secs(10),
            ..policy()
        };
        let many: Vec<_> = (0..12).map(at).collect();
        assert_eq!(
            decide_login(&short, at(12), &many, &many, false),
            Some(Duration::from_secs(9))
        );
    }

    #[test]
    fn the_ceiling_spares_known_addresses_and_lifts_as_failures_age() {
        let p = policy();
        let account: Vec<_> = (0..30).map(|i| at(i * 10)).collect();
        assert_eq!(
            decide_login(&p, at(400), &[], &account, false),
            Some(Duration::from_secs(3200))
        );
        assert_eq!(decide_login(&p, at(400), &[], &account, true), None);
        assert_eq!(decide_login(&p, at(3601), &[], &account, false), None);
        assert_eq!(decide_login(&p, at(400), &[], &account[..29], false), None);
    }

    #[test]
    fn one_address_cannot_reach_the_default_ceiling() {
        let p = policy();
        let one = max_failures_per_ip(&p);
        assert!((15..30).contains(&one), "{one}");
        // No address ever gets more than its share: over 100 a window is impossible.
        let strict = LoginThrottle {
            free_attempts: 3,
            ..policy()
        };
        assert!(max_failures_per_ip(&strict) < one);
    }

    #[test]
    fn an_address_spraying_many_accounts_waits_past_its_own_allowance() {
        let p = policy();
        let nineteen: Vec<_> = (0..19).map(at).collect();
        assert_eq!(decide_spraying(&p, at(20), &nineteen), None);
        let twenty: Vec<_> = (0..20).map(at).collect();
        assert_eq!(
            decide_spraying(&p, at(19), &twenty),
            Some(Duration::from_secs(1))
        );
        assert_eq!(decide_spraying(&p, at(21), &twenty), None);
        let thirty: Vec<_> = (0..30).map(at).collect();
        // 30 failures: 2^10 s after the last one, capped at the 15-minute maximum delay.
        assert_eq!(
            decide_spraying(&p, at(29), &thirty),
            Some(Duration::from_secs(900))
        );
        let twenty_five: Vec<_> = (0..25).map(at).collect();
        assert_eq!(
            decide_spraying(&p, at(24), &twenty_five),
            Some(Duration::from_secs(32))
        );
        let off = LoginThrottle {
            failures_per_ip: 0,
            ..policy()
        };
        assert_eq!(decide_spraying(&off, at(29), &thirty), None);
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_and_others_as_they_are() {
        assert_eq!(client_key("203.0.113.9"), "203.0.113.9");
        assert_eq!(client_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(
            client_key("2001:db8:1:2:ffff:ffff:ffff:ffff"),
            client_key("2001:db8:1:2::")
        );
        assert_ne!(client_key("2001:db8:1:3::1"), client_key("2001:db8:1:2::1"));
        assert_eq!(client_key("::ffff:192.0.2.1"), "192.0.2.1");
        assert_eq!(client_key("-"), "-");
    }

    #[test]
    fn the_second_factor_budget_lets_at_most_17_codes_an_hour_reach_an_account() {
        // Rule 5 counts an account's second-factor failures from every address as one
        // address's under rule 1: with the defaults, 17 within any hour, whatever the number
        // of addresses and password logins (SECURITY.md, 2.7.6).
        assert_eq!(max_failures_per_ip(&policy()), 17);
    }

    #[test]
    fn a_ceiling_one_address_could_reach_alone_is_refused_at_start_up() {
        assert!(check_policy(&policy()).is_ok(), "the defaults");
        let reachable = LoginThrottle {
            account_limit: 10,
            ..policy()
        };
        let err = check_policy(&reachable).unwrap_err();
        assert_eq!(err.key, "SECURITY_LOGIN_ACCOUNT_LIMIT");
        assert!(err.reason.contains("more than"), "{err}");
        let no_ceiling = LoginThrottle {
            account_limit: 0,
            ..policy()
        };
        assert!(check_policy(&no_ceiling).is_ok());
    }

    #[test]
    fn typed_subjects_ignore_case_and_hide_the_text() {
        let secret = Secret::new("k");
        let a = typed_subject(&secret, " Someone@Example.com");
        assert_eq!(a, typed_subject(&secret, "someone@example.com"));
        assert!(!a.contains("example"));
        assert_ne!(
            a,
            typed_subject(&Secret::new("other"), "someone@example.com")
        );
    }
}
