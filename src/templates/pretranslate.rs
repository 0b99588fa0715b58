//! Templates with their fixed texts already in one language: `{{ "Sign in" | t }}`
//! becomes the text itself, as if the template had been written in that language, so a
//! render no longer calls the `t` filter for it. A text with placeholders
//! (`"%(count)s passkeys" | t(count=n)`) still goes through the filter at each render. The
//! `t` filters were a tenth of the instructions of a logged-in `GET /profile`
//! (bench/README.md).
//!
//! A translated text that HTML-escaping would change (`&`, `<`, `'`, ...) stays a string
//! value, which the render escapes or not as it would have escaped the filter's answer;
//! any other becomes plain text.

use tera::ast::{Expr, ExprVal, Node};
use tera::Tera;

/// Puts the fixed texts of every template of `tera` through `translate`.
pub fn translate(tera: &mut Tera, translate: impl Fn(&str) -> String) {
    for template in tera.templates.values_mut() {
        in_nodes(&mut template.ast, &translate);
        for block in template.blocks.values_mut() {
            in_nodes(&mut block.body, &translate);
        }
        for definitions in template.blocks_definitions.values_mut() {
            for (_, block) in definitions {
                in_nodes(&mut block.body, &translate);
            }
        }
        for definition in template.macros.values_mut() {
            in_nodes(&mut definition.body, &translate);
        }
    }
}

fn in_nodes(nodes: &mut [Node], translate: &impl Fn(&str) -> String) {
    for node in nodes {
        match node {
            Node::VariableBlock(_, expr) => {
                if let Some(text) = fixed_text(expr, translate) {
                    if tera::escape_html(&text) == text {
                        *node = Node::Text(text);
                    } else {
                        *expr = Expr::new(ExprVal::String(text));
                    }
                }
            }
            Node::Set(_, set) => {
                if let Some(text) = fixed_text(&set.value, translate) {
                    set.value = Expr::new(ExprVal::String(text));
                }
            }
            Node::Block(_, block, _) => in_nodes(&mut block.body, translate),
            Node::MacroDefinition(_, definition, _) => in_nodes(&mut definition.body, translate),
            Node::FilterSection(_, section, _) => in_nodes(&mut section.body, translate),
            Node::Forloop(_, forloop, _) => {
                in_nodes(&mut forloop.body, translate);
                if let Some(empty) = &mut forloop.empty_body {
                    in_nodes(empty, translate);
                }
            }
            Node::If(branches, _) => {
                for (_, _, body) in &mut branches.conditions {
                    in_nodes(body, translate);
                }
                if let Some((_, body)) = &mut branches.otherwise {
                    in_nodes(body, translate);
                }
            }
            _ => {}
        }
    }
}

/// The translation of `"text" | t` (a literal, no placeholders, no other filter).
fn fixed_text(expr: &Expr, translate: &impl Fn(&str) -> String) -> Option<String> {
    match (&expr.val, expr.filters.as_slice()) {
        (ExprVal::String(msgid), [filter])
            if !expr.negated && filter.name == "t" && filter.args.is_empty() =>
        {
            Some(translate(msgid))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn german(msgid: &str) -> String {
        match msgid {
            "Sign in" => "Anmelden",
            "Terms & conditions" => "AGB & Bedingungen",
            _ => msgid,
        }
        .to_owned()
    }

    fn pages() -> Tera {
        let mut tera = Tera::default();
        tera.register_filter("t", |v: &tera::Value, _: &_| Ok(v.clone()));
        tera.add_raw_templates(vec![
            (
                "base.html",
                "<title>{% block title %}{% endblock title %}</title>",
            ),
            (
                "page.html",
                "{% extends \"base.html\" %}{% block title %}{{ \"Sign in\" | t }} · \
                 {{ \"Terms & conditions\" | t }} · {{ \"%(n)s left\" | t(n=2) }}\
                 {% set x = \"Sign in\" | t %}{{ x }}{% endblock title %}",
            ),
        ])
        .expect("templates");
        tera
    }

    #[test]
    fn fixed_texts_are_translated_and_escaped_as_before() {
        let mut tera = pages();
        translate(&mut tera, german);
        let page = tera
            .render("page.html", &tera::Context::new())
            .expect("render");
        assert_eq!(
            page,
            "<title>Anmelden · AGB &amp; Bedingungen · %(n)s leftAnmelden</title>"
        );
    }
}
