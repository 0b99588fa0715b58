//! The `latchkey` admin commands, run as the built binary against a fresh database of the
//! suite's backend (SQLite, or PostgreSQL with `LATCHKEY_TEST_POSTGRES_URL`).

use crate::common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::{random_hex, FreshDatabase, PASSWORD};
use diesel::prelude::*;
use latchkey::auth::PasswordHasher;
use latchkey::config::Secret;
use latchkey::db::models::User;
use latchkey::db::schema::user;
use latchkey::db::{roles, DbConnection};
use latchkey::domain::Password;
use reqwest::StatusCode;

/// One database and the settings every command of a test runs with.
struct Cli {
    db: FreshDatabase,
    salt: String,
    secret_key: String,
    /// More settings for every command (e.g. the password policy).
    env: Vec<(&'static str, &'static str)>,
}

impl Cli {
    fn new() -> Self {
        Self::with_env(&[])
    }

    fn with_env(env: &[(&'static str, &'static str)]) -> Self {
        Self {
            db: FreshDatabase::new(),
            salt: random_hex(16),
            secret_key: random_hex(32),
            env: env.to_vec(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_latchkey"));
        cmd.args(args)
            .current_dir(self.db.dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SECRET_KEY", &self.secret_key)
            .env("SECURITY_PASSWORD_SALT", &self.salt)
            .env("DATABASE_URL", &self.db.url)
            .env("SECURITY_BCRYPT_ROUNDS", "4")
            .envs(self.env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs a command with standard input closed.
    fn run(&self, args: &[&str]) -> Run {
        let out = self
            .command(args)
            .stdin(Stdio::null())
            .output()
            .expect("run latchkey");
        Run::from(out)
    }

    /// Runs a command with `input` on standard input (a pipe, not a terminal).
    fn run_with_stdin(&self, args: &[&str], input: &str) -> Run {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .spawn()
            .expect("start latchkey");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        Run::from(child.wait_with_output().expect("wait for latchkey"))
    }

    /// `users create EMAIL --password PASSWORD`, which must succeed.
    fn create(&self, email: &str) {
        self.run(&["users", "create", email, "--password", PASSWORD])
            .ok();
    }

    fn conn(&self) -> DbConnection {
        self.db.db()
    }

    fn user(&self, email: &str) -> User {
        user::table
            .filter(user::email.eq(email))
            .select(User::as_select())
            .first(&mut self.conn())
            .unwrap_or_else(|e| panic!("no user {email}: {e}"))
    }

    fn count_users(&self) -> i64 {
        user::table.count().get_result(&mut self.conn()).unwrap()
    }

    fn roles_of(&self, email: &str) -> Vec<String> {
        let id = self.user(email).id;
        roles::names_for_user(&mut self.conn(), id).unwrap()
    }

    fn password_is(&self, email: &str, password: &str) -> bool {
        let hasher = PasswordHasher::bcrypt(Secret::new(self.salt.clone()), 4).unwrap();
        hasher.verify_blocking(
            &Password::normalize(password, latchkey::config::NormalizeForm::DEFAULT),
            self.user(email).password_hash().unwrap(),
        )
    }

    /// A running app on the same database and secrets, to check logins.
    async fn app(&self) -> common::TestApp {
        common::spawn_app_with(&[
            ("DATABASE_URL", &self.db.url),
            ("SECURITY_PASSWORD_SALT", &self.salt),
            ("SECRET_KEY", &self.secret_key),
        ])
        .await
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl From<Output> for Run {
    fn from(out: Output) -> Self {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Run {
    fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    /// Failed with `code`, saying `message` on stderr, without a panic.
    fn fails(self, code: i32, message: &str) -> Self {
        assert_eq!(
            self.code, code,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        assert!(
            self.stderr.contains(message),
            "{message:?} not in stderr: {}",
            self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        self
    }
}

#[test]
fn help_documents_every_command_and_the_exit_codes() {
    let cli = Cli::new();
    let help = cli.run(&["--help"]).ok().stdout;
    for needle in [
        "serve",
        "users create EMAIL",
        "users activate",
        "users deactivate",
        "users reset-access",
        "users change-password",
        "users premium EMAIL on|off",
        "users list [--role ROLE]",
        "roles create NAME",
        "roles add EMAIL ROLE",
        "roles remove EMAIL ROLE",
        "roles list",
        "db migrate",
        "db sweep",
        "config check",
        "Exit codes",
    ] {
        assert!(
            help.contains(needle),
            "{needle:?} missing from --help:\n{help}"
        );
    }
    let create_help = cli.run(&["users", "create", "--help"]).ok().stdout;
    for flag in ["--username", "--password", "--inactive", "--confirmed"] {
        assert!(create_help.contains(flag), "{flag}: {create_help}");
    }
    cli.run(&["users", "frobnicate"])
        .fails(2, "unrecognized subcommand");
}

#[test]
fn db_migrate_applies_the_migrations_once() {
    let cli = Cli::new();

    // Each backend has its own folder (the two may differ in number: SQLite gets some
    // columns at start-up instead).
    let folder = match cli.db.is_sqlite() {
        true => "migrations/sqlite",
        false => "migrations/postgres",
    };
    let migrations = std::fs::read_dir(common::crate_dir(folder))
        .unwrap()
        .count();
    assert!(migrations >= 6, "{migrations}");
    let first = cli.run(&["db", "migrate"]).ok();
    let applied = format!("Applied {migrations} migration(s).");
    assert!(first.stdout.contains(&applied), "{}", first.stdout);
    assert_eq!(cli.count_users(), 0, "the tables exist");
    let second = cli.run(&["db", "migrate"]).ok();
    assert!(second.stdout.contains("up to date"), "{}", second.stdout);
}

#[test]
fn commands_refuse_a_missing_configuration_with_exit_code_2() {
    let cli = Cli::new();
    let out = cli
        .command(&["users", "list"])
        .env_remove("SECRET_KEY")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Run::from(out).fails(2, "SECRET_KEY");
}

#[actix_web::test]
async fn users_create_makes_an_account_that_logs_in_on_the_web() {
    let cli = Cli::new();

    let run = cli
        .run(&["users", "create", "Ann@Example.COM", "--password", PASSWORD])
        .ok();

    assert!(run.stdout.contains("Created user"), "{}", run.stdout);
    // Stored as the registration form stores it (case-folded).
    let ann = cli.user("ann@example.com");
    assert!(ann.is_active());
    assert!(ann.confirmed_at.is_none());
    assert_eq!(ann.username, None);
    assert_eq!(ann.fs_uniquifier.len(), 32);
    let app = cli.app().await;
    let r = app.login("ANN@example.com", PASSWORD, false).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert!(app.is_authenticated().await);
}

#[test]
fn users_create_with_flags_username_inactive_confirmed() {
    let cli = Cli::with_env(&[("SECURITY_USERNAME_ENABLE", "true")]);

    cli.run(&[
        "users",
        "create",
        "bob@example.com",
        "--username",
        "bobby",
        "--password",
        PASSWORD,
        "--inactive",
        "--confirmed",
    ])
    .ok();

    let bob = cli.user("bob@example.com");
    assert_eq!(bob.username.as_deref(), Some("bobby"));
    assert!(!bob.is_active());
    assert!(bob.confirmed_at.is_some());
    assert!(cli.password_is("bob@example.com", PASSWORD));
}

#[test]
fn users_create_reads_the_password_from_a_pipe() {
    let cli = Cli::new();

    cli.run_with_stdin(
        &["users", "create", "piped@example.com"],
        "piped-password-1\n",
    )
    .ok();

    assert!(cli.password_is("piped@example.com", "piped-password-1"));
    // Nothing on standard input: no password, the form's message.
    cli.run(&["users", "create", "empty@example.com"])
        .fails(3, "Password not provided");
    assert_eq!(cli.count_users(), 1);
}

#[test]
fn users_create_refuses_what_the_registration_form_refuses() {
    let cli = Cli::with_env(&[("SECURITY_USERNAME_ENABLE", "true")]);
    cli.create("taken@example.com");

    cli.run(&["users", "create", "not-an-email", "--password", PASSWORD])
        .fails(3, "Invalid email address");
    cli.run(&["users", "create", "a@example.com", "--password", "short"])
        .fails(3, "Password must be at least 8 characters");
    cli.run(&[
        "users",
        "create",
        "TAKEN@example.com",
        "--password",
        PASSWORD,
    ])
    .fails(
        3,
        "TAKEN@example.com is already associated with an account.",
    );
    cli.run(&[
        "users",
        "create",
        "d@example.com",
        "--username",
        "dupe1",
        "--password",
        PASSWORD,
    ])
    .ok();
    cli.run(&[
        "users",
        "create",
        "e@example.com",
        "--username",
        "DUPE1",
        "--password",
        PASSWORD,
    ])
    .fails(3, "DUPE1 is already associated with an account.");

    assert_eq!(cli.count_users(), 2);
}

#[test]
fn users_create_follows_the_username_settings_of_the_form() {
    // Off (the default): a username given on purpose is refused, not silently dropped.
    let off = Cli::new();
    off.run(&[
        "users",
        "create",
        "u@example.com",
        "--username",
        "someone",
        "--password",
        PASSWORD,
    ])
    .fails(3, "SECURITY_USERNAME_ENABLE");
    assert_eq!(off.count_users(), 0);

    // Required: missing is refused with the form's message.
    let required = Cli::with_env(&[
        ("SECURITY_USERNAME_ENABLE", "true"),
        ("SECURITY_USERNAME_REQUIRED", "true"),
    ]);
    required
        .run(&["users", "create", "r@example.com", "--password", PASSWORD])
        .fails(3, "Username not provided");
    required
        .run(&[
            "users",
            "create",
            "r@example.com",
            "--username",
            "no spaces",
            "--password",
            PASSWORD,
        ])
        .fails(3, "Username can contain only letters and numbers");
    required
        .run(&[
            "users",
            "create",
            "r@example.com",
            "--username",
            "ruth",
            "--password",
            PASSWORD,
        ])
        .ok();
    assert_eq!(
        required.user("r@example.com").username.as_deref(),
        Some("ruth")
    );
}

#[actix_web::test]
async fn users_deactivate_and_activate() {
    let cli = Cli::new();
    cli.create("dee@example.com");
    let app = cli.app().await;
    let browser = app
        .logged_in_client("dee@example.com", PASSWORD, false)
        .await;

    let run = cli.run(&["users", "deactivate", "dee@example.com"]).ok();

    assert!(run.stdout.contains("Deactivated"), "{}", run.stdout);
    assert!(!cli.user("dee@example.com").is_active());
    assert!(!browser.is_authenticated().await, "the login ended");
    let r = app.client().login("dee@example.com", PASSWORD, false).await;
    assert_eq!(r.status(), StatusCode::OK, "inactive users cannot log in");
    // Again: nothing to change is still success.
    cli.run(&["users", "deactivate", "dee@example.com"]).ok();

    cli.run(&["users", "activate", "dee@example.com"]).ok();

    assert!(cli.user("dee@example.com").is_active());
    app.logged_in_client("dee@example.com", PASSWORD, false)
        .await;
    cli.run(&["users", "activate", "nobody@example.com"])
        .fails(4, "No user with email nobody@example.com");
    cli.run(&["users", "deactivate", "nobody@example.com"])
        .fails(4, "No user with email");
}

#[actix_web::test]
async fn users_reset_access_logs_the_user_out_everywhere() {
    let cli = Cli::new();
    cli.create("rae@example.com");
    let app = cli.app().await;
    let one = app
        .logged_in_client("rae@example.com", PASSWORD, true)
        .await;
    let two = app
        .logged_in_client("rae@example.com", PASSWORD, false)
        .await;
    let before = cli.user("rae@example.com").fs_uniquifier;

    let run = cli.run(&["users", "reset-access", "rae@example.com"]).ok();

    assert!(run.stdout.contains("2 login(s) ended"), "{}", run.stdout);
    assert_ne!(cli.user("rae@example.com").fs_uniquifier, before);
    assert!(!one.is_authenticated().await, "remembered login ended too");
    assert!(!two.is_authenticated().await);
    assert_eq!(app.count_login_sessions(), 0);
    // The password still works.
    app.logged_in_client("rae@example.com", PASSWORD, false)
        .await;
    cli.run(&["users", "reset-access", "nobody@example.com"])
        .fails(4, "No user");
}

#[actix_web::test]
async fn users_change_password() {
    let cli = Cli::new();
    cli.create("cap@example.com");
    let app = cli.app().await;
    let browser = app
        .logged_in_client("cap@example.com", PASSWORD, false)
        .await;

    cli.run(&[
        "users",
        "change-password",
        "cap@example.com",
        "--password",
        "a-brand-new-one-2",
    ])
    .ok();

    assert!(cli.password_is("cap@example.com", "a-brand-new-one-2"));
    assert!(!cli.password_is("cap@example.com", PASSWORD));
    assert!(!browser.is_authenticated().await, "every login ended");
    app.logged_in_client("cap@example.com", "a-brand-new-one-2", false)
        .await;
    cli.run_with_stdin(
        &["users", "change-password", "cap@example.com"],
        "from-a-pipe-3\n",
    )
    .ok();
    assert!(cli.password_is("cap@example.com", "from-a-pipe-3"));
    cli.run(&[
        "users",
        "change-password",
        "cap@example.com",
        "--password",
        "from-a-pipe-3",
    ])
    .fails(
        3,
        "Your new password must be different than your previous password.",
    );
    cli.run(&[
        "users",
        "change-password",
        "cap@example.com",
        "--password",
        "short",
    ])
    .fails(3, "Password must be at least 8 characters");
    cli.run(&[
        "users",
        "change-password",
        "nobody@example.com",
        "--password",
        PASSWORD,
    ])
    .fails(4, "No user");
}

/// The password policy of the forms (`tests/it/password_policy.rs`), through the CLI.
#[test]
fn users_create_and_change_password_apply_the_password_policy() {
    let cli = Cli::with_env(&[
        ("SECURITY_PASSWORD_LENGTH_MIN", "12"),
        ("SECURITY_PASSWORD_COMPLEXITY_CHECKER", "zxcvbn"),
        ("SECURITY_PASSWORD_CHECK_BREACHED", "offline"),
    ]);
    let email = "gwendolyn-7f3a9c@example.com";
    let refused = [
        ("eleven-char", "Password must be at least 12 characters"),
        ("telechargement", "Password on breached list"),
        ("abcdefghijklmnop", "Password not complex enough"),
        // Strong for anyone else, weak as the user's own email.
        (email, "Password not complex enough"),
    ];
    for (password, message) in refused {
        cli.run(&["users", "create", email, "--password", password])
            .fails(3, message);
        cli.run_with_stdin(&["users", "create", email], &format!("{password}\n"))
            .fails(3, message);
    }
    assert_eq!(cli.count_users(), 0);
    let too_long = "x".repeat(129);
    cli.run(&["users", "create", email, "--password", &too_long])
        .fails(3, "Password must be at most 128 characters");

    cli.run(&[
        "users",
        "create",
        email,
        "--password",
        "violet-anchor-93-drum",
    ])
    .ok();
    for (password, message) in refused {
        cli.run(&["users", "change-password", email, "--password", password])
            .fails(3, message);
    }
    assert!(cli.password_is(email, "violet-anchor-93-drum"));
    cli.run(&[
        "users",
        "change-password",
        email,
        "--password",
        "пароль-🔑-mossy-kettle-71",
    ])
    .ok();
    assert!(cli.password_is(email, "пароль-🔑-mossy-kettle-71"));
}

/// `SECURITY_PASSWORD_HASH=argon2`: the CLI hashes with it too, and the server verifies.
#[actix_web::test]
async fn users_create_hashes_with_the_configured_scheme() {
    let cli = Cli::with_env(&[("SECURITY_PASSWORD_HASH", "argon2")]);
    cli.create("argon@example.com");
    let stored = cli.user("argon@example.com").password.unwrap();
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
    assert!(cli.password_is("argon@example.com", PASSWORD));
    let app = common::spawn_app_with(&[
        ("DATABASE_URL", &cli.db.url),
        ("SECURITY_PASSWORD_SALT", &cli.salt),
        ("SECRET_KEY", &cli.secret_key),
        ("SECURITY_PASSWORD_HASH", "argon2"),
    ])
    .await;
    app.logged_in_client("argon@example.com", PASSWORD, false)
        .await;
    assert_eq!(
        cli.user("argon@example.com").password.unwrap(),
        stored,
        "already current"
    );
}

#[actix_web::test]
async fn users_premium_on_and_off() {
    let cli = Cli::new();
    cli.create("pam@example.com");
    let app = cli.app().await;
    let browser = app
        .logged_in_client("pam@example.com", PASSWORD, false)
        .await;
    assert_eq!(
        browser.get("/premium").await.status(),
        StatusCode::FORBIDDEN
    );

    cli.run(&["users", "premium", "pam@example.com", "on"]).ok();

    assert!(cli.user("pam@example.com").is_premium());
    assert_eq!(browser.get("/premium").await.status(), StatusCode::OK);

    cli.run(&["users", "premium", "pam@example.com", "off"])
        .ok();

    assert!(!cli.user("pam@example.com").is_premium());
    assert_eq!(
        browser.get("/premium").await.status(),
        StatusCode::FORBIDDEN
    );
    cli.run(&["users", "premium", "pam@example.com", "maybe"])
        .fails(2, "expected on or off");
    cli.run(&["users", "premium", "nobody@example.com", "on"])
        .fails(4, "No user");
}

#[test]
fn users_list_shows_flags_and_roles_and_filters_by_role() {
    let cli = Cli::new();
    cli.create("lia@example.com");
    cli.create("lou@example.com");
    cli.run(&["roles", "create", "auditor"]).ok();
    cli.run(&["roles", "add", "lou@example.com", "auditor"])
        .ok();
    cli.run(&["users", "premium", "lou@example.com", "on"]).ok();

    let all = cli.run(&["users", "list"]).ok().stdout;

    let lines: Vec<&str> = all.lines().collect();
    assert_eq!(lines.len(), 3, "{all}");
    assert!(
        lines[0].contains("EMAIL") && lines[0].contains("ROLES"),
        "{all}"
    );
    assert!(
        lines[0].contains("PREMIUM") && lines[0].contains("LAST LOGIN"),
        "{all}"
    );
    let lou = lines
        .iter()
        .find(|l| l.contains("lou@example.com"))
        .unwrap();
    assert!(lou.contains("auditor"), "{lou}");
    let only = cli.run(&["users", "list", "--role", "auditor"]).ok().stdout;
    assert!(only.contains("lou@example.com"), "{only}");
    assert!(!only.contains("lia@example.com"), "{only}");
    cli.run(&["users", "list", "--role", "nope"])
        .fails(4, "No role named nope");
}

#[test]
fn roles_create_add_remove_and_list() {
    let cli = Cli::new();
    cli.create("rob@example.com");

    cli.run(&[
        "roles",
        "create",
        "admin",
        "--description",
        "Runs the place",
    ])
    .ok();
    cli.run(&["roles", "create", "admin"])
        .fails(3, "Role admin already exists");
    cli.run(&["roles", "create", "  "])
        .fails(3, "Role name not provided");
    let too_long = "r".repeat(81);
    cli.run(&["roles", "create", &too_long])
        .fails(3, "at most 80 characters");

    cli.run(&["roles", "add", "rob@example.com", "admin"]).ok();
    assert_eq!(cli.roles_of("rob@example.com"), ["admin"]);
    let again = cli.run(&["roles", "add", "rob@example.com", "admin"]).ok();
    assert!(
        again.stdout.contains("already has role admin"),
        "{}",
        again.stdout
    );
    assert_eq!(
        cli.roles_of("rob@example.com"),
        ["admin"],
        "no duplicate row"
    );
    cli.run(&["roles", "add", "rob@example.com", "ghost"])
        .fails(4, "No role named ghost");
    cli.run(&["roles", "add", "nobody@example.com", "admin"])
        .fails(4, "No user with email nobody@example.com");

    let listed = cli.run(&["roles", "list"]).ok().stdout;
    let admin = listed.lines().find(|l| l.starts_with("admin")).unwrap();
    assert!(admin.contains("Runs the place"), "{listed}");
    assert!(admin.trim_end().ends_with('1'), "one holder: {listed}");

    cli.run(&["roles", "remove", "rob@example.com", "admin"])
        .ok();
    assert!(cli.roles_of("rob@example.com").is_empty());
    let again = cli
        .run(&["roles", "remove", "rob@example.com", "admin"])
        .ok();
    assert!(
        again.stdout.contains("does not have role admin"),
        "{}",
        again.stdout
    );
    cli.run(&["roles", "remove", "rob@example.com", "ghost"])
        .fails(4, "No role named ghost");
}

#[actix_web::test]
async fn users_tf_reset_removes_second_factors_and_list_shows_who_has_one() {
    let cli = Cli::with_env(&[
        ("SECURITY_TWO_FACTOR", "true"),
        ("SECURITY_TOTP_SECRETS", "cli-totp-secret"),
    ]);
    cli.create("lost@example.com");
    cli.create("kept@example.com");
    {
        use diesel::prelude::*;
        diesel::update(user::table.filter(user::email.eq("lost@example.com")))
            .set((
                user::tf_primary_method.eq(Some("authenticator")),
                user::tf_totp_secret.eq(Some("{\"enckey\":{}}")),
                user::mf_recovery_codes.eq(Some("aaaa-bbbb-cccc")),
            ))
            .execute(&mut cli.conn())
            .unwrap();
    }
    let list = cli.run(&["users", "list"]).ok();
    let line = |email: &str| {
        list.stdout
            .lines()
            .find(|l| l.contains(email))
            .unwrap_or_else(|| panic!("{email} not listed: {}", list.stdout))
            .to_owned()
    };
    assert!(list.stdout.lines().next().unwrap().contains("2FA"));
    assert!(line("lost@example.com").contains("authenticator"));
    assert!(!line("kept@example.com").contains("authenticator"));

    let run = cli.run(&["users", "tf-reset", "lost@example.com"]).ok();
    assert!(
        run.stdout
            .contains("Removed the second factor (authenticator)"),
        "{}",
        run.stdout
    );
    let lost = cli.user("lost@example.com");
    assert_eq!(lost.tf_primary_method, None);
    assert_eq!(lost.tf_totp_secret, None);
    assert_eq!(lost.mf_recovery_codes, None);
    cli.run(&["users", "tf-reset", "nobody@example.com"])
        .fails(4, "No user");
}

/// The account commands call the rules the web calls, and those rules write the security
/// events: `users create` is a registration, and deactivate, activate, reset-access and
/// tf-reset leave their own event in the account's history.
#[test]
fn the_account_commands_write_their_security_events() {
    use latchkey::db::schema::security_event;
    let cli = Cli::new();
    cli.create("ev@example.com");
    let id = cli.user("ev@example.com").id;
    for args in [
        ["users", "deactivate", "ev@example.com"],
        ["users", "activate", "ev@example.com"],
        ["users", "reset-access", "ev@example.com"],
        ["users", "tf-reset", "ev@example.com"],
    ] {
        cli.run(&args).ok();
    }
    let kinds: Vec<String> = security_event::table
        .filter(security_event::user_id.eq(id))
        .order(security_event::id.asc())
        .select(security_event::kind)
        .load(&mut cli.conn())
        .unwrap();
    assert_eq!(
        kinds,
        [
            "registered",
            "account_deactivated",
            "account_activated",
            "access_reset",
            "second_factors_reset"
        ],
        "the events the commands wrote"
    );
}

/// `latchkey config check` says what each `SECURITY_*` key is: a misspelt one is named with
/// the key it was meant to be (exit code 5), a known but unsupported one with its reason.
#[test]
fn config_check_names_a_misspelt_key_and_the_reason_of_an_unsupported_one() {
    let cli = Cli::with_env(&[
        ("SECURITY_REGISTERABEL", "true"),
        ("SECURITY_CONFIRM_SALT", "pepper"),
        ("SECURITY_RECOVERABLE", "true"),
    ]);
    let out = cli
        .command(&["config", "check"])
        .stdin(Stdio::null())
        .output()
        .expect("run latchkey");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(5), "{stdout}");
    assert!(
        stdout.contains(
            "SECURITY_REGISTERABEL: unknown key, ignored; did you mean SECURITY_REGISTERABLE?"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("SECURITY_CONFIRM_SALT: not applicable, ignored. Latchkey's tokens"),
        "{stdout}"
    );
    assert!(
        stdout.contains("SECURITY_RECOVERABLE: honoured"),
        "{stdout}"
    );

    let clean = Cli::with_env(&[("SECURITY_RECOVERABLE", "true")]);
    let out = clean.run(&["config", "check"]).ok().stdout;
    assert!(out.contains("SECURITY_RECOVERABLE: honoured"), "{out}");
}
