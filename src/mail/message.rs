//! A composed mail, rendered from its templates.

use crate::config::MailParts;
use crate::messages::Lang;
use crate::templates::Templates;

/// A rendered message: text, HTML, or both (multipart/alternative), as
/// `SECURITY_EMAIL_PLAINTEXT` and `SECURITY_EMAIL_HTML` say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub to: String,
    pub subject: String,
    pub text: Option<String>,
    pub html: Option<String>,
}

/// Renders `security/email/<name>.txt` and `.html` with `ctx` (each only if `parts` asks for
/// it), their texts in `lang`.
pub fn compose(
    templates: &Templates,
    lang: &Lang,
    parts: MailParts,
    (name, to, subject): (&str, &str, &str),
    ctx: &tera::Context,
) -> Result<Message, tera::Error> {
    let render = |wanted: bool, ext: &str| {
        wanted
            .then(|| templates.render(lang, &format!("security/email/{name}.{ext}"), ctx))
            .transpose()
    };
    Ok(Message {
        to: to.to_owned(),
        subject: subject.to_owned(),
        text: render(parts.text, "txt")?,
        html: render(parts.html, "html")?,
    })
}
