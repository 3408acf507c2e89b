//! What several payloads share.

use serde_json::Value;

/// A value of a `property`/`value` style update (bool, number, string, object or null).
pub type PropertyValue = Value;

/// The default of a field that says a conversation is direct.
pub(super) fn direct() -> String {
    "direct".to_owned()
}
