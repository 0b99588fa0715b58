//! The approximate client of a request, from its `User-Agent`: browser family and operating
//! system ("Firefox on Linux"), parsed with [woothee](https://docs.rs/woothee). It is what
//! the security activity lists and notices show, and what "a device not seen before" means
//! for the new-device notice: two sign-ins come from the same device when their browser
//! family and operating system agree (versions are ignored, so an update is not a new
//! device). It is a hint, never a proof: any client can send any `User-Agent`.

use std::sync::OnceLock;

/// A client's browser family and operating system, each `None` when not recognised.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Device {
    pub browser: Option<String>,
    pub os: Option<String>,
}

fn parser() -> &'static woothee::parser::Parser {
    static PARSER: OnceLock<woothee::parser::Parser> = OnceLock::new();
    PARSER.get_or_init(woothee::parser::Parser::new)
}

fn known(value: &str) -> Option<String> {
    (!value.is_empty() && value != woothee::woothee::VALUE_UNKNOWN).then(|| value.to_owned())
}

impl Device {
    /// The device a `User-Agent` names (nothing recognised for `None` or an unknown one).
    pub fn parse(user_agent: Option<&str>) -> Self {
        let Some(ua) = user_agent.map(str::trim).filter(|ua| !ua.is_empty()) else {
            return Self::default();
        };
        match parser().parse(ua) {
            Some(result) => Self {
                browser: known(result.name),
                os: known(result.os),
            },
            None => Self::default(),
        }
    }

    /// Whether anything was recognised.
    pub fn is_known(&self) -> bool {
        self.browser.is_some() || self.os.is_some()
    }

    /// "Firefox on Linux", "Safari", "an unknown browser on iPhone", or "an unknown client".
    pub fn describe(&self) -> String {
        self.describe_with(crate::messages::fill)
    }

    /// [`Device::describe`] in the language of `messages` ("Safari auf iPhone"; the names of
    /// browsers and systems stay as they are).
    pub fn describe_in(&self, messages: &crate::messages::Messages) -> String {
        self.describe_with(|msgid, args| messages.translate(msgid, args))
    }

    fn describe_with(&self, say: impl Fn(&str, &[(&str, &str)]) -> String) -> String {
        match (&self.browser, &self.os) {
            (Some(browser), Some(os)) => say(
                "%(browser)s on %(os)s",
                &[("browser", browser.as_str()), ("os", os.as_str())],
            ),
            (Some(browser), None) => browser.clone(),
            (None, Some(os)) => say("an unknown browser on %(os)s", &[("os", os)]),
            (None, None) => say("an unknown client", &[]),
        }
    }
}

/// [`Device::parse`] then [`Device::describe`].
pub fn describe(user_agent: Option<&str>) -> String {
    Device::parse(user_agent).describe()
}

/// [`Device::parse`] then [`Device::describe_in`].
pub fn describe_in(user_agent: Option<&str>, messages: &crate::messages::Messages) -> String {
    Device::parse(user_agent).describe_in(messages)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIREFOX_LINUX: &str =
        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
    const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";

    #[test]
    fn device_names_are_in_the_readers_language() {
        let messages = crate::messages::Messages::default();
        let german = messages.in_language(&crate::messages::Lang::parse("de").expect("de"));
        assert_eq!(
            Device::parse(Some(FIREFOX_LINUX)).describe_in(&german),
            "Firefox auf Linux"
        );
        assert_eq!(
            Device::parse(None).describe_in(&german),
            "ein unbekanntes Gerät"
        );
        assert_eq!(
            Device::parse(Some(FIREFOX_LINUX)).describe_in(&messages),
            "Firefox on Linux"
        );
    }

    #[test]
    fn browser_family_and_os_without_versions() {
        assert_eq!(describe(Some(FIREFOX_LINUX)), "Firefox on Linux");
        assert_eq!(describe(Some(CHROME_WINDOWS)), "Chrome on Windows 10");
        let newer = FIREFOX_LINUX.replace("128.0", "129.0");
        assert_eq!(
            Device::parse(Some(FIREFOX_LINUX)),
            Device::parse(Some(&newer))
        );
    }

    #[test]
    fn nothing_recognised_is_an_unknown_client() {
        assert_eq!(describe(None), "an unknown client");
        assert_eq!(describe(Some("")), "an unknown client");
        assert_eq!(describe(Some("   ")), "an unknown client");
    }
}
