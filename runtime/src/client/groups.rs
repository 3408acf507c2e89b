//! `GET /user_groups`: the organization's user groups, for commands some groups only
//! may run.

use serde::Deserialize;
use serde_json::Value;

use super::{Client, MAX_EVENTS_BODY, json_of};
use crate::error::Result;

impl Client {
    /// The organization's user groups, as Zulip lists them (each with `id`, `name`,
    /// `members`, and `direct_subgroup_ids` or, before feature level 131, `subgroups`).
    pub async fn user_groups(&self) -> Result<Vec<Value>> {
        let req = self.request(reqwest::Method::GET, "user_groups");
        #[derive(Deserialize)]
        struct Groups {
            user_groups: Vec<Value>,
        }
        let g: Groups = json_of(
            &self.send(req, "user_groups", MAX_EVENTS_BODY).await?,
            "user_groups",
        )?;
        Ok(g.user_groups)
    }
}
