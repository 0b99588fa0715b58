//! Rendering a page with the context every page shares (`config`, `urls`, `languages`, ...)
//! without copying it for each request: each thread keeps one copy of it, puts the page's
//! own values over it for the render, then takes them out again and puts back what they
//! hid. Copying the shared part and dropping it again was a tenth of the instructions of a
//! logged-in `GET /profile` (bench/README.md).

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value};
use tera::Context;

/// The part of every page's context that only the settings decide, with an identity: the
/// copy a thread keeps is of the last defaults it rendered with (tests run many apps, with
/// other settings, in one process).
pub struct PageDefaults {
    id: u64,
    context: Context,
}

impl PageDefaults {
    pub fn new(context: Context) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            context,
        }
    }

    /// The defaults themselves (for a context made whole, e.g. to be cached).
    pub fn context(&self) -> &Context {
        &self.context
    }
}

/// This thread's copy of some defaults, and whether a render left values in it (a panic
/// while rendering): such a copy is made again before it is used.
struct Kept {
    id: u64,
    context: Context,
    dirty: bool,
}

thread_local! {
    static KEPT: RefCell<Option<Kept>> = const { RefCell::new(None) };
}

/// Calls `render` with `defaults` and `values` over them (a value hides the default of the
/// same name, as `Context::extend` would).
pub fn render_over<R>(
    defaults: &PageDefaults,
    values: Context,
    render: impl FnOnce(&Context) -> Result<R, tera::Error>,
) -> Result<R, tera::Error> {
    KEPT.with(|cell| {
        let Ok(mut slot) = cell.try_borrow_mut() else {
            // A render within a render (never today): copy, as before.
            return render(&merged(defaults, values));
        };
        let kept = match slot.take() {
            Some(kept) if kept.id == defaults.id && !kept.dirty => kept,
            _ => Kept {
                id: defaults.id,
                context: defaults.context.clone(),
                dirty: false,
            },
        };
        let kept = slot.insert(kept);
        let Value::Object(values) = values.into_json() else {
            return render(&kept.context);
        };
        let names: Vec<String> = values.keys().cloned().collect();
        let mut hidden = Map::new();
        for name in &names {
            if let Some(default) = kept.context.remove(name) {
                hidden.insert(name.clone(), default);
            }
        }
        kept.dirty = true;
        kept.context
            .extend(Context::from_value(Value::Object(values))?);
        let rendered = render(&kept.context);
        for name in &names {
            kept.context.remove(name);
        }
        kept.context
            .extend(Context::from_value(Value::Object(hidden))?);
        kept.dirty = false;
        rendered
    })
}

fn merged(defaults: &PageDefaults, values: Context) -> Context {
    let mut context = defaults.context.clone();
    context.extend(values);
    context
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(defaults: &PageDefaults, values: Context) -> String {
        let mut tera = Tera::default();
        tera.add_raw_template(
            "t",
            "{{ shared }}|{% if mine is defined %}{{ mine }}{% else %}-{% endif %}|{{ errors }}",
        )
        .expect("template");
        render_over(defaults, values, |ctx| tera.render("t", ctx)).expect("render")
    }

    use tera::Tera;

    fn defaults(shared: &str) -> PageDefaults {
        let mut ctx = Context::new();
        ctx.insert("shared", shared);
        ctx.insert("errors", "none");
        PageDefaults::new(ctx)
    }

    #[test]
    fn a_pages_values_do_not_reach_the_next_page() {
        let defaults = defaults("s");
        let mut first = Context::new();
        first.insert("mine", "ada's");
        first.insert("errors", "bad email");
        assert_eq!(page(&defaults, first), "s|ada's|bad email");
        // The next page sets neither: the first page's values are gone, the default back.
        assert_eq!(page(&defaults, Context::new()), "s|-|none");
    }

    #[test]
    fn other_defaults_are_not_mixed_up() {
        let one = defaults("one");
        let two = defaults("two");
        assert_eq!(page(&one, Context::new()), "one|-|none");
        assert_eq!(page(&two, Context::new()), "two|-|none");
        assert_eq!(page(&one, Context::new()), "one|-|none");
    }

    #[test]
    fn a_failed_render_leaves_nothing_behind() {
        let defaults = defaults("s");
        let mut values = Context::new();
        values.insert("mine", "ada's");
        let failed: Result<(), _> = render_over(&defaults, values, |_| {
            Err(tera::Error::msg("broken template"))
        });
        assert!(failed.is_err());
        assert_eq!(page(&defaults, Context::new()), "s|-|none");
    }

    #[test]
    fn a_panic_while_rendering_leaves_nothing_behind() {
        let defaults = defaults("s");
        let mut values = Context::new();
        values.insert("mine", "ada's");
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _: Result<(), _> = render_over(&defaults, values, |_| panic!("render panicked"));
        }));
        assert!(panicked.is_err());
        assert_eq!(page(&defaults, Context::new()), "s|-|none");
    }
}
