//! The fake server's user groups, which commands for some groups check:
//! `GET /user_groups`; the `user_group` events come from `FakeZulip::add_user_group`.

use serde_json::{Value, json};

use super::reply::Reply;
use super::state::{Shared, lock};

/// `GET /user_groups`, each group as Zulip 9 lists it.
pub(super) fn user_groups(shared: &Shared) -> Reply {
    let st = lock(shared);
    let groups: Vec<Value> = st
        .groups
        .iter()
        .map(|(id, name, members)| group_json(*id, name, members))
        .collect();
    Reply::ok(json!({"user_groups": groups}))
}

pub(super) fn group_json(id: i64, name: &str, members: &[i64]) -> Value {
    json!({"id": id, "name": name, "description": "", "members": members, "direct_subgroup_ids": [],
        "is_system_group": false, "creator_id": null, "date_created": null, "can_mention_group": 11})
}
