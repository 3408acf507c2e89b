//! Zulip's roles (`role` of `GET /users`), shared by the compiler (`allowed =
//! ["role:admin"]`, `sender_role` in test cases) and the runtime (who may run a command).

/// The roles by name, as Zulip numbers them: a smaller number is a higher role.
pub const ROLES: &[(&str, u16)] = &[
    ("owner", 100),
    ("admin", 200),
    ("moderator", 300),
    ("member", 400),
    ("guest", 600),
];

/// The role named `name` (`admin`), as Zulip numbers it.
pub fn role_number(name: &str) -> Option<u16> {
    ROLES.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

/// The name of role number `role`, if Zulip has one.
pub fn role_name(role: u16) -> Option<&'static str> {
    ROLES.iter().find(|(_, r)| *r == role).map(|(n, _)| *n)
}

/// "owner, admin, moderator, member, guest", for messages that list them.
pub fn role_names() -> String {
    ROLES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}
