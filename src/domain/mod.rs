//! Typed values parsed at the edge: nothing deeper sees an unvalidated email, password,
//! username or redirect target.

pub mod common_passwords;
pub mod email;
pub mod form_errors;
pub mod lookalike;
pub mod next_url;
pub mod password;
pub mod phone;
pub mod role;
pub mod username;

pub use email::Email;
pub use form_errors::FormErrors;
pub use next_url::SafeNext;
pub use password::{HashScheme, Password, PasswordPolicy};
pub use phone::{Phone, PhoneInvalid, Region};
pub use role::{RoleError, RoleName};
pub use username::{Username, UsernameError};
