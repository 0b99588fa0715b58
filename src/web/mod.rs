//! HTTP plumbing shared by every feature: content negotiation, body decoding with CSRF,
//! the current user, rendering pages or JSON, and the one place errors become responses.

pub mod check_email;
pub mod client;
pub mod cookies;
pub mod cors;
pub mod csrf;
pub mod current_user;
pub mod error;
pub mod error_page;
pub mod format;
pub mod guards;
pub mod headers;
pub mod language;
pub mod page;
pub mod pending;
pub mod placed_cookie;
pub mod request_log;
pub mod signin;
pub mod spa;
pub mod state;
pub mod submission;
pub mod user_view;

pub use current_user::{AuthenticatedUser, MaybeUser};
pub use error::AppError;
pub use format::Format;
pub use guards::{Premium, RolesAccepted, RolesRequired};
pub use page::{FormErrors, Web};
pub use state::AppState;
pub use submission::Submission;
