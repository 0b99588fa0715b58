//! A composed mail, rendered from its templates.

use crate::messages::Lang;
use crate::templates::Templates;

/// A rendered message: multipart text + HTML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Renders `security/email/<name>.txt` and `.html` with `ctx`, their texts in `lang`.
pub fn compose(
    templates: &Templates,
    lang: &Lang,
    name: &str,
    to: &str,
    subject: &str,
    ctx: &tera::Context,
) -> Result<Message, tera::Error> {
    Ok(Message {
        to: to.to_owned(),
        subject: subject.to_owned(),
        text: templates.render(lang, &format!("security/email/{name}.txt"), ctx)?,
        html: templates.render(lang, &format!("security/email/{name}.html"), ctx)?,
    })
}
