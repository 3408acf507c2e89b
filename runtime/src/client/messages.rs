//! One message by id: read (`GET /messages/{id}`), edit (`PATCH`) and delete
//! (`DELETE`). Listeners that follow edits read the edited message whole and update or
//! delete their answers with these.

use serde::Deserialize;
use serde_json::Value;

use super::{Client, MAX_BODY, json_of};
use crate::error::{Error, Result};

/// Whether an error says the message is not there (deleted, or never visible to us):
/// Zulip answers `BAD_REQUEST` "Invalid message(s)".
pub fn is_no_such_message(e: &Error) -> bool {
    matches!(e, Error::BadRequest { msg, .. } if msg.to_ascii_lowercase().contains("invalid message"))
}

impl Client {
    /// `GET /messages/{id}` with the content as Markdown: the message as the events
    /// carry it (its `flags` included).
    pub async fn message(&self, id: i64) -> Result<Value> {
        let endpoint = format!("messages/{id}");
        let req = self
            .request(reqwest::Method::GET, &endpoint)
            .query(&[("apply_markdown", "false")]);
        #[derive(Deserialize)]
        struct One {
            message: Value,
        }
        let one: One = json_of(
            &self.send(req, "messages/{id}", MAX_BODY).await?,
            "messages/{id}",
        )?;
        if !one.message.is_object() {
            return Err(Error::Protocol {
                endpoint: "messages/{id}".into(),
                detail: "`message` is not an object".into(),
            });
        }
        Ok(one.message)
    }

    /// `PATCH /messages/{id}`: replaces the content of one of our messages.
    pub async fn edit_message(&self, id: i64, content: &str) -> Result<()> {
        let endpoint = format!("messages/{id}");
        let req = self
            .request(reqwest::Method::PATCH, &endpoint)
            .form(&[("content", content)]);
        self.send(req, "messages/{id}", MAX_BODY).await.map(drop)
    }

    /// `DELETE /messages/{id}`. `Ok(false)`: it was not there (deleted already).
    pub async fn delete_message(&self, id: i64) -> Result<bool> {
        let endpoint = format!("messages/{id}");
        let req = self.request(reqwest::Method::DELETE, &endpoint);
        match self.send(req, "messages/{id}", MAX_BODY).await {
            Ok(_) => Ok(true),
            Err(e) if is_no_such_message(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
