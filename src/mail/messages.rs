//! The messages Latchkey sends, rendered from `security/email/<name>.txt|.html`.
//! Links are absolute and built from `BASE_URL`, never from the request's `Host`.

use serde_json::json;

use super::message::{compose, Message};
use crate::config::Settings;
use crate::messages::Messages;
use crate::templates::Templates;
use crate::urls::{Route, Urls};

/// What every security notice names: when, from which client (approximately), from which
/// address. The sessions link is added from `BASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeDetails {
    /// "2026-11-30 07:18 UTC".
    pub time: String,
    /// The browser and operating system from the user agent ("Firefox on Linux").
    pub client: String,
    /// The client's IP address, when the change came from a request.
    pub ip: Option<String>,
}

/// Renders mails in the language of `messages` (the request's that caused them).
pub struct Mailer<'a> {
    templates: &'a Templates,
    settings: &'a Settings,
    messages: &'a Messages,
    urls: Urls,
}

impl<'a> Mailer<'a> {
    pub fn new(
        templates: &'a Templates,
        settings: &'a Settings,
        messages: &'a Messages,
        urls: Urls,
    ) -> Self {
        Self {
            templates,
            settings,
            messages,
            urls,
        }
    }

    /// A configured subject as given; a default one (Flask-Security's English) translated.
    fn subject(&self, configured: &str) -> String {
        if self.settings.explicit_subjects.contains(configured) {
            configured.to_owned()
        } else {
            self.messages.gettext(configured).to_owned()
        }
    }

    fn link(&self, path: &str) -> String {
        format!("{}{path}", self.settings.base_url)
    }

    fn context(&self, email: &str) -> tera::Context {
        let mut ctx = tera::Context::new();
        ctx.insert("lang", self.messages.lang().as_str());
        ctx.insert("user", &json!({ "email": email }));
        ctx.insert("config", &json!({ "app_name": self.settings.app_name }));
        ctx.insert("login_link", &self.link(self.urls.path(Route::Login)));
        ctx.insert(
            "recover_link",
            &self
                .settings
                .features
                .recoverable
                .then(|| self.link(self.urls.path(Route::Reset))),
        );
        ctx
    }

    /// [`Mailer::context`] with the notice's common facts as `notice`: `time`, `client`,
    /// `ip` ("unknown" outside a request) and `sessions_link`.
    fn notice_context(&self, email: &str, details: &NoticeDetails) -> tera::Context {
        let mut ctx = self.context(email);
        ctx.insert(
            "notice",
            &json!({
                "time": details.time,
                "client": details.client,
                "ip": details.ip.as_deref().unwrap_or("unknown"),
                "sessions_link": self.link(self.urls.path(Route::Sessions)),
            }),
        );
        ctx
    }

    fn render(
        &self,
        name: &str,
        email: &str,
        subject: &str,
        ctx: tera::Context,
    ) -> Result<Message, tera::Error> {
        let subject = self.subject(subject);
        let mut ctx = ctx;
        ctx.insert("subject", &subject);
        compose(
            self.templates,
            self.messages.lang(),
            self.settings.mail.parts,
            (name, email, &subject),
            &ctx,
        )
    }

    pub fn welcome(
        &self,
        email: &str,
        confirm_token: Option<&str>,
    ) -> Result<Message, tera::Error> {
        let mut ctx = self.context(email);
        ctx.insert(
            "confirmation_link",
            &confirm_token.map(|t| self.link(&self.urls.with_token(Route::ConfirmToken, t))),
        );
        self.render(
            "welcome",
            email,
            &self.settings.email_subjects.register,
            ctx,
        )
    }

    /// Sent instead of `welcome` when someone registers an address that already has an
    /// account and responses are generic: the owner learns of it, the visitor learns nothing.
    pub fn welcome_existing(&self, email: &str) -> Result<Message, tera::Error> {
        let ctx = self.context(email);
        self.render(
            "welcome_existing",
            email,
            &self.settings.email_subjects.register,
            ctx,
        )
    }

    pub fn confirmation_instructions(
        &self,
        email: &str,
        token: &str,
    ) -> Result<Message, tera::Error> {
        let mut ctx = self.context(email);
        ctx.insert(
            "confirmation_link",
            &self.link(&self.urls.with_token(Route::ConfirmToken, token)),
        );
        self.render(
            "confirmation_instructions",
            email,
            &self.settings.email_subjects.confirm,
            ctx,
        )
    }

    pub fn reset_instructions(&self, email: &str, token: &str) -> Result<Message, tera::Error> {
        let mut ctx = self.context(email);
        ctx.insert(
            "reset_link",
            &self.link(&self.urls.with_token(Route::ResetToken, token)),
        );
        self.render(
            "reset_instructions",
            email,
            &self.settings.email_subjects.password_reset,
            ctx,
        )
    }

    pub fn reset_notice(
        &self,
        email: &str,
        details: &NoticeDetails,
    ) -> Result<Message, tera::Error> {
        let ctx = self.notice_context(email, details);
        self.render(
            "reset_notice",
            email,
            &self.settings.email_subjects.password_notice,
            ctx,
        )
    }

    /// "Two-Factor Login": a code for a login or a setup, valid for `within`.
    pub fn two_factor_code(
        &self,
        email: &str,
        code: &str,
        within: std::time::Duration,
    ) -> Result<Message, tera::Error> {
        let mut ctx = self.context(email);
        ctx.insert("token", code);
        ctx.insert("within", &self.messages.period(within));
        self.render(
            "two_factor_instructions",
            email,
            &self.settings.email_subjects.two_factor,
            ctx,
        )
    }

    /// "Verification Code": a unified sign-in code, with the sign-in link (`SECURITY_US_VERIFY_LINK_URL`
    /// with `link` as its query) when there is a `link`.
    pub fn us_code(
        &self,
        email: &str,
        code: &str,
        link: Option<&str>,
        within: std::time::Duration,
    ) -> Result<Message, tera::Error> {
        let mut ctx = self.context(email);
        ctx.insert("login_token", code);
        ctx.insert("token", code);
        let link = link.map(|query| self.link(&self.urls.with_query(Route::UsVerifyLink, query)));
        ctx.insert("login_link", &link);
        ctx.insert("username", email);
        ctx.insert("within", &self.messages.period(within));
        self.render(
            "us_instructions",
            email,
            &self.settings.unified_signin.email_subject,
            ctx,
        )
    }

    /// "Two-Factor Rescue": to the site's support address, for `email`, who cannot get a
    /// code.
    pub fn two_factor_rescue(&self, support: &str, email: &str) -> Result<Message, tera::Error> {
        let ctx = self.context(email);
        self.render(
            "two_factor_rescue",
            support,
            &self.settings.email_subjects.two_factor_rescue,
            ctx,
        )
    }

    pub fn change_notice(
        &self,
        email: &str,
        details: &NoticeDetails,
    ) -> Result<Message, tera::Error> {
        let ctx = self.notice_context(email, details);
        self.render(
            "change_notice",
            email,
            &self.settings.email_subjects.password_change_notice,
            ctx,
        )
    }

    /// "Confirm your new email address": to the new address, with the link that switches
    /// the account to it. `current` is the address it replaces (Flask-Security names it).
    pub fn change_email_instructions(
        &self,
        new_email: &str,
        current: &str,
        token: &str,
        within: std::time::Duration,
    ) -> Result<Message, tera::Error> {
        let mut ctx = self.context(current);
        ctx.insert(
            "link",
            &self.link(&self.urls.with_token(Route::ChangeEmailToken, token)),
        );
        ctx.insert("token", token);
        ctx.insert("within", &self.messages.period(within));
        self.render(
            "change_email_instructions",
            new_email,
            &self.settings.account_changes.change_email_subject,
            ctx,
        )
    }

    /// To the address a change replaced: the new one, masked, and the "this wasn't me" link.
    pub fn change_email_notice(
        &self,
        old_email: &str,
        new_email_masked: &str,
        revert_token: &str,
        within: std::time::Duration,
        details: &NoticeDetails,
    ) -> Result<Message, tera::Error> {
        let mut ctx = self.notice_context(old_email, details);
        ctx.insert("new_email", new_email_masked);
        ctx.insert(
            "revert_link",
            &self.link(&self.urls.with_token(Route::ChangeEmailRevert, revert_token)),
        );
        ctx.insert("within", &self.messages.period(within));
        self.render(
            "change_email_notice",
            old_email,
            &self.settings.account_changes.change_email_notice_subject,
            ctx,
        )
    }

    /// "New sign-in to your account": a sign-in from a device and an address not seen
    /// before.
    pub fn new_device_notice(
        &self,
        email: &str,
        details: &NoticeDetails,
    ) -> Result<Message, tera::Error> {
        let ctx = self.notice_context(email, details);
        self.render(
            "new_device_notice",
            email,
            &self.settings.notices.new_device_subject,
            ctx,
        )
    }

    /// "Your two-factor sign-in has changed": `change` is `enabled`, `disabled` or
    /// `method_changed`; `method` the method now in use.
    pub fn two_factor_notice(
        &self,
        email: &str,
        change: &str,
        method: Option<&str>,
        details: &NoticeDetails,
    ) -> Result<Message, tera::Error> {
        let mut ctx = self.notice_context(email, details);
        ctx.insert("two_factor", &json!({"change": change, "method": method}));
        self.render(
            "two_factor_notice",
            email,
            &self.settings.notices.two_factor_subject,
            ctx,
        )
    }

    /// "Your passkeys have changed": the passkey `name` was added or removed.
    pub fn passkey_notice(
        &self,
        email: &str,
        added: bool,
        name: &str,
        details: &NoticeDetails,
    ) -> Result<Message, tera::Error> {
        let mut ctx = self.notice_context(email, details);
        ctx.insert("passkey", &json!({"added": added, "name": name}));
        self.render(
            "passkey_notice",
            email,
            &self.settings.notices.passkey_subject,
            ctx,
        )
    }

    /// "Your social logins have changed": an identity at `provider` (its address there,
    /// when known) was linked or unlinked.
    pub fn social_login_notice(
        &self,
        email: &str,
        linked: bool,
        provider: &str,
        address: Option<&str>,
        details: &NoticeDetails,
    ) -> Result<Message, tera::Error> {
        let mut ctx = self.notice_context(email, details);
        ctx.insert(
            "identity",
            &json!({"linked": linked, "provider": provider, "email": address}),
        );
        self.render(
            "social_login_notice",
            email,
            &self.settings.notices.social_login_subject,
            ctx,
        )
    }

    /// "New recovery codes were generated" (the codes are never mailed).
    pub fn recovery_codes_notice(
        &self,
        email: &str,
        details: &NoticeDetails,
    ) -> Result<Message, tera::Error> {
        let ctx = self.notice_context(email, details);
        self.render(
            "recovery_codes_notice",
            email,
            &self.settings.notices.recovery_codes_subject,
            ctx,
        )
    }

    /// "Your username has been changed".
    pub fn username_change_notice(
        &self,
        email: &str,
        username: &str,
    ) -> Result<Message, tera::Error> {
        let mut ctx = self.context(email);
        ctx.insert("user", &json!({ "email": email, "username": username }));
        self.render(
            "change_username_notice",
            email,
            &self.settings.account_changes.username_change_subject,
            ctx,
        )
    }

    /// "Your requested username".
    pub fn username_recovery(&self, email: &str, username: &str) -> Result<Message, tera::Error> {
        let mut ctx = self.context(email);
        ctx.insert("user", &json!({ "email": email, "username": username }));
        self.render(
            "username_recovery",
            email,
            &self.settings.account_changes.username_recovery_subject,
            ctx,
        )
    }
}
