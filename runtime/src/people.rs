//! Who people are in an organization, as commands for some people only need to know:
//! their roles ([`Roles`], `allowed = ["role:admin"]`) and the user groups they are in
//! ([`Groups`], `allowed = ["group:oncall"]`), each read when a connection starts
//! (`GET /users`, `GET /user_groups`) and followed through events (`realm_user`,
//! `user_group`). A member of a group's subgroup (at any depth) is a member of the
//! group.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use serde_json::Value;

/// The people's roles in one organization: read from `GET /users` when a connection
/// starts and kept current with its `realm_user` events, shared by dispatch and the
/// jobs (a clone is a handle).
#[derive(Debug, Clone, Default)]
pub struct Roles(std::sync::Arc<std::sync::RwLock<std::collections::HashMap<i64, u16>>>);

impl PartialEq for Roles {
    fn eq(&self, other: &Roles) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Roles {}

impl Roles {
    /// Roles from `(user id, role)` pairs.
    pub fn new(roles: impl IntoIterator<Item = (i64, u16)>) -> Roles {
        Roles(std::sync::Arc::new(std::sync::RwLock::new(
            roles.into_iter().collect(),
        )))
    }

    /// The role of user `id`, if known.
    pub fn get(&self, id: i64) -> Option<u16> {
        self.0.read().ok()?.get(&id).copied()
    }

    /// Sets the role of user `id`.
    pub fn set(&self, id: i64, role: u16) {
        if let Ok(mut m) = self.0.write() {
            m.insert(id, role);
        }
    }

    /// Follows a `realm_user` event (its JSON text): a new person's role, a changed
    /// role, a person removed.
    pub fn follow(&self, json: &str) {
        let Ok(e) = serde_json::from_str::<serde_json::Value>(json) else {
            return;
        };
        let p = &e["person"];
        let (Some(id), op) = (p["user_id"].as_i64(), e["op"].as_str()) else {
            return;
        };
        match (op, p["role"].as_u64().and_then(|r| u16::try_from(r).ok())) {
            (Some("add" | "update"), Some(role)) => self.set(id, role),
            (Some("remove"), _) => {
                if let Ok(mut m) = self.0.write() {
                    m.remove(&id);
                }
            }
            _ => {}
        }
    }
}

/// One group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Group {
    name: String,
    members: HashSet<i64>,
    subgroups: HashSet<i64>,
}

/// The groups, by id; a clone is a handle to the same ones.
#[derive(Debug, Clone, Default)]
pub struct Groups(Arc<RwLock<HashMap<i64, Group>>>);

impl PartialEq for Groups {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Groups {}

/// Ids in `v` (a list of numbers).
fn ids(v: &Value) -> impl Iterator<Item = i64> + '_ {
    v.as_array().into_iter().flatten().filter_map(Value::as_i64)
}

impl Groups {
    /// Groups as `GET /user_groups` lists them (or the `group` of an `add` event).
    pub fn set_all(&self, list: &[Value]) {
        let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
        map.clear();
        for g in list {
            Self::add(&mut map, g);
        }
    }

    fn add(map: &mut HashMap<i64, Group>, g: &Value) {
        let Some(id) = g["id"].as_i64() else { return };
        // `subgroups` before feature level 131.
        let subgroups = if g["direct_subgroup_ids"].is_array() {
            &g["direct_subgroup_ids"]
        } else {
            &g["subgroups"]
        };
        map.insert(
            id,
            Group {
                name: g["name"].as_str().unwrap_or_default().to_owned(),
                members: ids(&g["members"]).collect(),
                subgroups: ids(subgroups).collect(),
            },
        );
    }

    /// Follows a `user_group` event (its JSON text).
    pub fn follow(&self, json: &str) {
        let Ok(e) = serde_json::from_str::<Value>(json) else {
            return;
        };
        let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
        let id = e["group_id"].as_i64().unwrap_or(-1);
        let subgroups = if e["direct_subgroup_ids"].is_array() {
            &e["direct_subgroup_ids"]
        } else {
            &e["subgroup_ids"]
        };
        match e["op"].as_str() {
            Some("add") => Self::add(&mut map, &e["group"]),
            Some("remove") => {
                map.remove(&id);
            }
            Some("update") => {
                if let (Some(g), Some(name)) = (map.get_mut(&id), e["data"]["name"].as_str()) {
                    name.clone_into(&mut g.name);
                }
            }
            Some(op) => {
                let Some(g) = map.get_mut(&id) else { return };
                match op {
                    "add_members" => g.members.extend(ids(&e["user_ids"])),
                    "remove_members" => ids(&e["user_ids"]).for_each(|u| {
                        g.members.remove(&u);
                    }),
                    "add_subgroups" => g.subgroups.extend(ids(subgroups)),
                    "remove_subgroups" => ids(subgroups).for_each(|s| {
                        g.subgroups.remove(&s);
                    }),
                    _ => {}
                }
            }
            None => {}
        }
    }

    /// Whether user `user` is in the group named `name` (or in one of its subgroups).
    pub fn has_member(&self, name: &str, user: i64) -> bool {
        let map = self.0.read().unwrap_or_else(|e| e.into_inner());
        let mut todo: Vec<i64> = map
            .iter()
            .filter(|(_, g)| g.name == name)
            .map(|(id, _)| *id)
            .collect();
        let mut seen = HashSet::new();
        while let Some(id) = todo.pop() {
            if !seen.insert(id) {
                continue;
            }
            let Some(g) = map.get(&id) else { continue };
            if g.members.contains(&user) {
                return true;
            }
            todo.extend(g.subgroups.iter().copied());
        }
        false
    }

    /// Puts user `user` in the group named `name` (made if there is none): tests.
    pub fn join(&self, name: &str, user: i64) {
        let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
        let next = map.keys().max().map_or(1, |m| m + 1);
        let id = map
            .iter()
            .find(|(_, g)| g.name == name)
            .map_or(next, |(id, _)| *id);
        let g = map.entry(id).or_insert_with(|| Group {
            name: name.to_owned(),
            ..Group::default()
        });
        g.members.insert(user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The official `user_group` event examples, in order, on a group with a subgroup.
    #[test]
    fn groups_follow_the_official_events_and_subgroups_count() {
        let g = Groups::default();
        g.set_all(&[
            serde_json::json!({"id": 10, "name": "db", "members": [7], "direct_subgroup_ids": []}),
        ]);
        let examples = include_str!("../tests/fixtures/zulip/events.jsonl");
        let mut events = examples
            .lines()
            .filter(|l| l.contains(r#""type":"user_group""#));
        g.follow(events.next().unwrap()); // add `backend` (2) with member 12
        assert!(g.has_member("backend", 12) && !g.has_member("backend", 7));
        g.follow(events.next().unwrap()); // update (description only)
        g.follow(events.next().unwrap()); // add member 10
        assert!(g.has_member("backend", 10));
        g.follow(events.next().unwrap()); // remove member 10
        assert!(!g.has_member("backend", 10));
        g.follow(events.next().unwrap()); // add subgroup 10 (`db`)
        assert!(
            g.has_member("backend", 7),
            "a member of a subgroup is a member"
        );
        g.follow(events.next().unwrap()); // remove subgroup 10
        assert!(!g.has_member("backend", 7));
        g.follow(events.next().unwrap()); // remove the group
        assert!(!g.has_member("backend", 12));
        // Subgroups that contain each other end the search.
        g.set_all(&[
            serde_json::json!({"id": 1, "name": "a", "members": [], "subgroups": [2]}),
            serde_json::json!({"id": 2, "name": "b", "members": [], "subgroups": [1]}),
        ]);
        assert!(!g.has_member("a", 5));
    }
}
