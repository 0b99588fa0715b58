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

    /// "Firefox on Linux", "Safari", "an app on iPhone", or "an unknown client".
    pub fn describe(&self) -> String {
        match (&self.browser, &self.os) {
            (Some(browser), Some(os)) => format!("{browser} on {os}"),
            (Some(browser), None) => browser.clone(),
            (None, Some(os)) => format!("an unknown browser on {os}"),
            (None, None) => "an unknown client".to_owned(),
        }
    }
}

/// [`Device::parse`] then [`Device::describe`].
pub fn describe(user_agent: Option<&str>) -> String {
    Device::parse(user_agent).describe()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIREFOX_LINUX: &str =
        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
    const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";

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
