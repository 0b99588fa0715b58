//! One hand-written schema for both backends (SQLite and PostgreSQL).
//! The first three tables are Flask-Security-Too's, column for column.

diesel::table! {
    user (id) {
        id -> Integer,
        email -> Nullable<Text>,
        username -> Nullable<Text>,
        // NULL or empty: no password (an account signed up with a passkey).
        password -> Nullable<Text>,
        last_login_at -> Nullable<Timestamp>,
        current_login_at -> Nullable<Timestamp>,
        last_login_ip -> Nullable<Text>,
        current_login_ip -> Nullable<Text>,
        login_count -> Nullable<Integer>,
        active -> Nullable<Bool>,
        premium -> Nullable<Bool>,
        fs_uniquifier -> Text,
        confirmed_at -> Nullable<Timestamp>,
        // Flask-Security's two-factor columns (SECURITY_TWO_FACTOR).
        tf_primary_method -> Nullable<Text>,
        tf_totp_secret -> Nullable<Text>,
        tf_phone_number -> Nullable<Text>,
        mf_recovery_codes -> Nullable<Text>,
        // Flask-Security's passkey user handle (SECURITY_WEBAUTHN).
        fs_webauthn_user_handle -> Nullable<Text>,
        // Flask-Security's unified sign-in columns (SECURITY_UNIFIED_SIGNIN).
        us_totp_secrets -> Nullable<Text>,
        us_phone_number -> Nullable<Text>,
    }
}

diesel::table! {
    role (id) {
        id -> Integer,
        name -> Nullable<Text>,
        description -> Nullable<Text>,
    }
}

diesel::table! {
    roles_users (id) {
        id -> Integer,
        user_id -> Nullable<Integer>,
        role_id -> Nullable<Integer>,
    }
}

diesel::table! {
    login_session (id) {
        id -> Text,
        user_id -> Integer,
        fs_uniquifier -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        remember_hash -> Nullable<Text>,
        remember_expires_at -> Nullable<Timestamp>,
        authenticated_at -> Nullable<Timestamp>,
        /// How the login was proved (RFC 8176 `amr` values, space-separated).
        amr -> Nullable<Text>,
    }
}

diesel::table! {
    mail_outbox (id) {
        id -> BigInt,
        recipient -> Text,
        subject -> Text,
        text_body -> Text,
        html_body -> Text,
        created_at -> Timestamp,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    user_token (token_hash) {
        token_hash -> Text,
        user_id -> Integer,
        purpose -> Text,
        binding -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        detail -> Nullable<Text>,
    }
}

diesel::table! {
    auth_attempt (id) {
        id -> BigInt,
        action -> Text,
        subject -> Text,
        ip -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// One-time codes already used (an authenticator code's time step), so that none is
    /// accepted twice.
    otp_used (user_id, purpose, step) {
        user_id -> Integer,
        purpose -> Text,
        step -> BigInt,
        used_at -> Timestamp,
    }
}

diesel::table! {
    /// Flask-Security's passkeys (SECURITY_WEBAUTHN), column for column.
    webauthn (id) {
        id -> Integer,
        credential_id -> Binary,
        public_key -> Binary,
        sign_count -> Nullable<Integer>,
        transports -> Nullable<Text>,
        backup_state -> Bool,
        device_type -> Text,
        extensions -> Nullable<Text>,
        create_datetime -> Timestamp,
        lastuse_datetime -> Timestamp,
        name -> Text,
        usage -> Text,
        user_id -> Integer,
    }
}

diesel::table! {
    /// Passkey ceremonies in progress, each finished at most once.
    webauthn_ceremony (token_hash) {
        token_hash -> Text,
        binding -> Text,
        purpose -> Text,
        user_id -> Nullable<Integer>,
        state -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    /// Latchkey's API tokens: one row per token, by its keyed digest.
    auth_token (token_hash) {
        token_hash -> Text,
        user_id -> Integer,
        fs_uniquifier -> Text,
        login_id -> Nullable<Text>,
        refresh_family -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        last_used_at -> Timestamp,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        authenticated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// The login a refresh family was started at (signing that login out ends the family).
    refresh_login (refresh_family) {
        refresh_family -> Text,
        login_id -> Text,
    }
}

diesel::table! {
    /// Flask-Security 5.9's refresh-token trackers.
    fs_refresh (id) {
        id -> Integer,
        refresh_family -> Text,
        gen -> Nullable<Integer>,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        last_used_at -> Timestamp,
        create_datetime -> Timestamp,
        name -> Text,
        user_id -> Integer,
    }
}

diesel::joinable!(auth_token -> user (user_id));
diesel::joinable!(fs_refresh -> user (user_id));

diesel::table! {
    /// Security events written by the hooks' built-in subscriber (`auth::events`): what
    /// happened to an account, when, and from which client. Never a secret.
    security_event (id) {
        id -> BigInt,
        user_id -> Nullable<Integer>,
        kind -> Text,
        detail -> Nullable<Text>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// Social login: an identity at a provider (its name, the ID token's subject) that signs
    /// in to an account. Found by subject, never by email.
    oauth_identity (id) {
        id -> Integer,
        provider -> Text,
        subject -> Text,
        user_id -> Integer,
        email -> Nullable<Text>,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// "Sign in with Latchkey": an app registered with the OpenID Connect provider. Its
    /// secret is stored as a digest only (none for a public client); the URI lists are JSON.
    oidc_client (id) {
        id -> Integer,
        client_id -> Text,
        name -> Text,
        secret_digest -> Nullable<Text>,
        redirect_uris -> Text,
        post_logout_redirect_uris -> Text,
        scopes -> Text,
        is_public -> Bool,
        created_at -> Timestamp,
        secret_rotated_at -> Nullable<Timestamp>,
        id_token_alg -> Text,
    }
}

diesel::table! {
    /// A key the provider's ID tokens are signed with: the private half sealed under a key
    /// derived from `SECRET_KEY`, the public half as a JWK. Current while `retired_at` is
    /// NULL (one per algorithm).
    oidc_signing_key (id) {
        id -> Integer,
        kid -> Text,
        alg -> Text,
        private_key_sealed -> Text,
        public_jwk -> Text,
        created_at -> Timestamp,
        retired_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// An authorization code of the OpenID Connect provider (its digest) and the family of
    /// tokens it started.
    oidc_grant (id) {
        id -> Integer,
        family -> Text,
        code_digest -> Text,
        client_id -> Text,
        user_id -> Integer,
        redirect_uri -> Text,
        scope -> Text,
        nonce -> Nullable<Text>,
        code_challenge -> Nullable<Text>,
        auth_time -> Timestamp,
        amr -> Text,
        created_at -> Timestamp,
        code_expires_at -> Timestamp,
        code_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// An access or refresh token (its digest) of a grant's family.
    oidc_token (id) {
        id -> Integer,
        token_digest -> Text,
        family -> Text,
        kind -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// The scopes a person agreed to share with an app.
    oidc_consent (id) {
        id -> Integer,
        user_id -> Integer,
        client_id -> Text,
        scope -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(oidc_grant -> user (user_id));
diesel::joinable!(oidc_consent -> user (user_id));
diesel::joinable!(oauth_identity -> user (user_id));
diesel::joinable!(user_token -> user (user_id));
diesel::joinable!(webauthn -> user (user_id));
diesel::joinable!(login_session -> user (user_id));
diesel::joinable!(roles_users -> role (role_id));

diesel::allow_tables_to_appear_in_same_query!(
    user,
    role,
    roles_users,
    login_session,
    mail_outbox,
    user_token,
    auth_attempt,
    otp_used,
    webauthn,
    webauthn_ceremony,
    auth_token,
    fs_refresh,
    refresh_login,
    security_event,
    oauth_identity,
    oidc_client,
    oidc_signing_key,
    oidc_grant,
    oidc_token,
    oidc_consent
);
