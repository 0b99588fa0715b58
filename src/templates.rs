//! Tera templates: defaults compiled into the binary, overridden by files of the same name
//! under `SECURITY_TEMPLATES_DIR` (Flask-Security's "a template of the same name wins").

use std::path::Path;

use tera::Tera;

use crate::web::error::describe_tera_error;

/// The built-in templates, by the names Flask-Security uses.
const DEFAULTS: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("index.html", include_str!("../templates/index.html")),
    ("profile.html", include_str!("../templates/profile.html")),
    ("premium.html", include_str!("../templates/premium.html")),
    ("admin.html", include_str!("../templates/admin.html")),
    (
        "security/_macros.html",
        include_str!("../templates/security/_macros.html"),
    ),
    (
        "security/_menu.html",
        include_str!("../templates/security/_menu.html"),
    ),
    (
        "security/_messages.html",
        include_str!("../templates/security/_messages.html"),
    ),
    (
        "security/login_user.html",
        include_str!("../templates/security/login_user.html"),
    ),
    (
        "security/register_user.html",
        include_str!("../templates/security/register_user.html"),
    ),
    (
        "security/send_confirmation.html",
        include_str!("../templates/security/send_confirmation.html"),
    ),
    (
        "security/forgot_password.html",
        include_str!("../templates/security/forgot_password.html"),
    ),
    (
        "security/reset_password.html",
        include_str!("../templates/security/reset_password.html"),
    ),
    (
        "security/change_password.html",
        include_str!("../templates/security/change_password.html"),
    ),
    (
        "security/verify_user.html",
        include_str!("../templates/security/verify_user.html"),
    ),
    (
        "security/sessions.html",
        include_str!("../templates/security/sessions.html"),
    ),
    (
        "security/email/base.html",
        include_str!("../templates/security/email/base.html"),
    ),
    (
        "security/email/welcome.txt",
        include_str!("../templates/security/email/welcome.txt"),
    ),
    (
        "security/email/welcome.html",
        include_str!("../templates/security/email/welcome.html"),
    ),
    (
        "security/email/welcome_existing.txt",
        include_str!("../templates/security/email/welcome_existing.txt"),
    ),
    (
        "security/email/welcome_existing.html",
        include_str!("../templates/security/email/welcome_existing.html"),
    ),
    (
        "security/email/confirmation_instructions.txt",
        include_str!("../templates/security/email/confirmation_instructions.txt"),
    ),
    (
        "security/email/confirmation_instructions.html",
        include_str!("../templates/security/email/confirmation_instructions.html"),
    ),
    (
        "security/email/reset_instructions.txt",
        include_str!("../templates/security/email/reset_instructions.txt"),
    ),
    (
        "security/email/reset_instructions.html",
        include_str!("../templates/security/email/reset_instructions.html"),
    ),
    (
        "security/email/reset_notice.txt",
        include_str!("../templates/security/email/reset_notice.txt"),
    ),
    (
        "security/email/reset_notice.html",
        include_str!("../templates/security/email/reset_notice.html"),
    ),
    (
        "security/email/change_notice.txt",
        include_str!("../templates/security/email/change_notice.txt"),
    ),
    (
        "security/email/change_notice.html",
        include_str!("../templates/security/email/change_notice.html"),
    ),
];

pub struct Templates {
    tera: Tera,
}

impl Templates {
    /// Loads the defaults, then every `.html`/`.txt` file under `overrides_dir` (if it
    /// exists). A template that does not parse stops start-up with its name and cause.
    pub fn load(overrides_dir: &Path) -> anyhow::Result<Self> {
        let mut sources: Vec<(String, String)> = DEFAULTS
            .iter()
            .map(|(name, body)| ((*name).to_owned(), (*body).to_owned()))
            .collect();
        if overrides_dir.is_dir() {
            collect_overrides(overrides_dir, overrides_dir, &mut sources)?;
        }
        let mut tera = Tera::default();
        tera.autoescape_on(vec![".html", ".htm", ".xml"]);
        tera.add_raw_templates(sources)
            .map_err(|e| anyhow::anyhow!("template error: {}", describe_tera_error(&e)))?;
        Ok(Self { tera })
    }

    pub fn render(&self, name: &str, ctx: &tera::Context) -> Result<String, tera::Error> {
        self.tera.render(name, ctx)
    }
}

fn collect_overrides(
    root: &Path,
    dir: &Path,
    out: &mut Vec<(String, String)>,
) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("cannot read templates folder {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            collect_overrides(root, &path, out)?;
            continue;
        }
        let is_template = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("html" | "txt")
        );
        if !is_template {
            continue;
        }
        let name = path
            .strip_prefix(root)
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .to_string_lossy()
            .replace('\\', "/");
        let body = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("cannot read template {}: {e}", path.display()))?;
        // A later entry of the same name replaces the default.
        out.retain(|(existing, _)| *existing != name);
        out.push((name, body));
    }
    Ok(())
}
