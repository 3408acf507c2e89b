//! Payloads of every event type except `message` (see [`super::message`]).
//!
//! Field names follow the Zulip spec. Fields that the spec marks optional, or that old
//! servers omit, are `Option` or `#[serde(default)]`; unknown fields are ignored, so a
//! newer server adding a field never breaks parsing. Nested objects that listeners filter
//! on (users, channels, groups) are typed; rarely used deep settings stay `Value`.

// Every payload type: a struct with serde's derives, each field public.
macro_rules! payload {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub struct $name { $($(#[$fm])* pub $field: $ty,)* }
    };
}

mod common;
mod messages;
mod people;
mod realm;

pub use common::PropertyValue;
pub use messages::*;
pub use people::*;
pub use realm::*;
