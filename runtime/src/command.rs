//! Commands: `@**Ops Bot** deploy production --force` read against the specifications
//! the compiler wrote (a `[[listener]]`'s `command = "..."`), which are constants of
//! the generated binary: parsing a message is a walk over static tables.
//!
//! A message is a command when it starts with a mention of the bot (`@**Name**`,
//! `@**Name|id**` or the silent `@_**Name**`), when it is a direct message to the bot,
//! or when it starts with the pipeline's prefix (`!deploy`). A mention inside a quote,
//! a code block or the middle of a sentence is not a command. The first line is the
//! command; a trailing `<text...>` argument takes the rest of the message.

use zlc_catalog::suggest;

/// The name of zlc's listener that answers messages for the bot running no command.
pub const HELP: &str = "help";

/// One command, as the compiler wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandSpec {
    /// What follows the mention: `deploy`.
    pub name: &'static str,
    /// One line for `help`.
    pub summary: &'static str,
    /// Positional arguments, in order: the required ones, then the optional ones, a
    /// rest-of-message one last.
    pub args: &'static [ArgSpec],
    /// Flags (`--force`), without their dashes.
    pub flags: &'static [&'static str],
    /// Who may run it (empty: everyone).
    pub allowed: &'static [Allowed],
}

impl CommandSpec {
    /// No command (a placeholder while a table is put together).
    pub const NONE: CommandSpec = CommandSpec {
        name: "",
        summary: "",
        args: &[],
        flags: &[],
        allowed: &[],
    };
}

/// One rule of who may run a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowed {
    /// People of this Zulip role or a higher one (200: admins and owners; see
    /// [`zlc_catalog::ROLES`]).
    Role(u16),
    /// A person, by email (any case).
    Email(&'static str),
    /// A person, by user id.
    Id(i64),
    /// The members of a user group (its subgroups' too), by name.
    Group(&'static str),
}

/// Who sent a message, as far as command checks need to know.
#[derive(Debug, Clone, Copy)]
pub struct Sender<'a> {
    /// User id.
    pub id: i64,
    /// Email.
    pub email: &'a str,
    /// Zulip role, when known.
    pub role: Option<u16>,
    /// The organization's user groups, when commands for some groups need them.
    pub groups: Option<&'a crate::people::Groups>,
}

pub use crate::people::Roles;

/// Whether `who` may run `spec`.
fn permitted(spec: &CommandSpec, who: &Sender<'_>) -> bool {
    spec.allowed.is_empty()
        || spec.allowed.iter().any(|a| match a {
            Allowed::Role(r) => who.role.is_some_and(|role| role <= *r),
            Allowed::Email(e) => who.email.eq_ignore_ascii_case(e),
            Allowed::Id(id) => who.id == *id,
            Allowed::Group(g) => who
                .groups
                .is_some_and(|groups| groups.has_member(g, who.id)),
        })
}

/// "you may not run `deploy`: it is for admins and above only".
fn refusal(spec: &CommandSpec) -> String {
    format!(
        "you may not run `{}`: it is for {} only",
        spec.name,
        who_may(spec)
    )
}

/// Who may run `spec`, in words: "admins and above, iago@example.com".
fn who_may(spec: &CommandSpec) -> String {
    let who: Vec<String> = spec
        .allowed
        .iter()
        .map(|a| match a {
            Allowed::Role(100) => "owners".to_owned(),
            Allowed::Role(r) => {
                let name = zlc_catalog::role_name(*r).unwrap_or("?");
                format!("{name}s and above")
            }
            Allowed::Email(e) => (*e).to_owned(),
            Allowed::Id(id) => format!("user {id}"),
            Allowed::Group(g) => format!("members of {g}"),
        })
        .collect();
    who.join(", ")
}

/// A positional argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgSpec {
    /// Its name (`{{args.NAME}}` in templates).
    pub name: &'static str,
    /// What it accepts.
    pub kind: ArgKind,
    /// Whether it must be given.
    pub required: bool,
}

/// What an argument accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// One word (or a quoted text).
    Word,
    /// A whole number.
    Int,
    /// One of these words (any case; the value is the word as declared).
    Choice(&'static [&'static str]),
    /// The rest of the message.
    Rest,
}

/// An argument's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgValue {
    /// A word, a choice or the rest of the message.
    Text(String),
    /// A whole number.
    Int(i64),
    /// A flag: given or not.
    Flag(bool),
    /// An optional argument left out.
    Absent,
}

impl ArgValue {
    /// The value as templates show it (`true`/`false` for flags, empty when absent).
    pub fn text(&self) -> String {
        match self {
            ArgValue::Text(t) => t.clone(),
            ArgValue::Int(n) => n.to_string(),
            ArgValue::Flag(b) => b.to_string(),
            ArgValue::Absent => String::new(),
        }
    }
}

/// A command to run: which one, and its arguments (every argument and flag of the
/// spec, in order, positional ones first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The index of the command in the specs.
    pub command: usize,
    /// `(name, value)` for every argument and flag.
    pub args: Vec<(&'static str, ArgValue)>,
}

impl Invocation {
    /// The value of argument or flag `name`.
    pub fn get(&self, name: &str) -> Option<&ArgValue> {
        self.args.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

/// What a message addressed to the bot asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// Run this command.
    Run(Invocation),
    /// Answer with this text: help, an unknown command, a usage error.
    Answer(String),
}

/// A pipeline's commands and prefix, as its description and every listener of it
/// carry them (empty for a pipeline without commands).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Commands {
    /// Every command, in the order the listeners declare them.
    pub specs: &'static [CommandSpec],
    /// Whether a command is for some roles only (the connection then follows the
    /// people's roles).
    pub by_role: bool,
    /// Whether a command is for some user groups only (the connection then follows
    /// the organization's groups).
    pub by_group: bool,
    /// The prefix that makes a channel message a command, if any.
    pub prefix: Option<&'static str>,
}

impl Commands {
    /// No commands.
    pub const NONE: Commands = Commands {
        specs: &[],
        prefix: None,
        by_role: false,
        by_group: false,
    };

    /// What a message of `content` (`direct`: to the bot alone or with others in a
    /// direct message) asks of the bot named `bot_name` (id `bot_id`), if it
    /// addresses it and the pipeline has commands.
    pub fn reading(
        &self,
        content: &str,
        direct: bool,
        bot_name: &str,
        bot_id: Option<u64>,
        who: &Sender<'_>,
    ) -> Option<Reading> {
        if self.specs.is_empty() {
            return None;
        }
        let to = Addressing {
            bot_name,
            bot_id,
            prefix: self.prefix,
        };
        command_text(content, direct, &to).map(|text| read(self.specs, text, who))
    }
}

/// Whether `reading` (of a message, by [`Commands::reading`]) runs command `k`.
pub fn runs_command(reading: &Option<Reading>, k: usize) -> bool {
    matches!(reading, Some(Reading::Run(i)) if i.command == k)
}

/// Whether `reading` addresses the bot without running a command (help, an unknown
/// command, a refusal, a usage error), which zlc's `help` listener answers.
pub fn answers_command(reading: &Option<Reading>) -> bool {
    matches!(reading, Some(Reading::Answer(_)))
}

/// How messages address the bot.
#[derive(Debug, Clone, Copy)]
pub struct Addressing<'a> {
    /// The bot's full name, as mentions write it.
    pub bot_name: &'a str,
    /// The bot's user id, when known (`@**Name|id**`).
    pub bot_id: Option<u64>,
    /// A prefix that makes a channel message a command (`!`), if the pipeline has one.
    pub prefix: Option<&'a str>,
}

/// The command text of `content` when it addresses the bot (`direct`: a direct message
/// to it), else `None`.
pub fn command_text<'c>(content: &'c str, direct: bool, to: &Addressing<'_>) -> Option<&'c str> {
    let text = content.trim_start();
    if let Some(rest) = after_mention(text, to) {
        return Some(rest.trim_start_matches([':', ',']).trim_start());
    }
    if let Some(p) = to.prefix.filter(|p| !p.is_empty())
        && let Some(rest) = text.strip_prefix(p)
        && rest.starts_with(|c: char| c.is_alphanumeric())
    {
        return Some(rest);
    }
    let quoted = text.starts_with('>') || text.starts_with("```") || text.starts_with("~~~");
    (direct && !quoted).then_some(text)
}

/// The text after a leading mention of the bot.
fn after_mention<'c>(text: &'c str, to: &Addressing<'_>) -> Option<&'c str> {
    let inner = text
        .strip_prefix("@**")
        .or_else(|| text.strip_prefix("@_**"))?;
    let end = inner.find("**")?;
    let (name, id) = match inner[..end].rsplit_once('|') {
        Some((n, id)) => (n, id.parse::<u64>().ok()),
        None => (&inner[..end], None),
    };
    let ours = match (id, to.bot_id) {
        (Some(id), Some(bot)) => id == bot,
        _ => name.trim().eq_ignore_ascii_case(to.bot_name.trim()),
    };
    ours.then(|| &inner[end + 2..])
}

/// A word of a command line, and where the text after it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    text: String,
    /// Byte offset of the token's start in the command text.
    start: usize,
    quoted: bool,
}

/// Splits the first line of `text` into words; `"two words"` (or “two words”) is
/// one word, `\"` a quote inside it.
fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let line = text.lines().next().unwrap_or("");
    let mut out = Vec::new();
    let mut chars = line.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let close = match c {
            '"' => Some('"'),
            '“' => Some('”'),
            _ => None,
        };
        let mut word = String::new();
        if let Some(close) = close {
            chars.next();
            let mut closed = false;
            while let Some((_, c)) = chars.next() {
                match c {
                    '\\' if matches!(chars.peek(), Some((_, '"'))) => {
                        word.push('"');
                        chars.next();
                    }
                    c if c == close => {
                        closed = true;
                        break;
                    }
                    c => word.push(c),
                }
            }
            if !closed {
                return Err(format!(
                    "a quote opened at `{}` is not closed",
                    &line[start..]
                ));
            }
            out.push(Token {
                text: word,
                start,
                quoted: true,
            });
        } else {
            while let Some(&(_, c)) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
            out.push(Token {
                text: word,
                start,
                quoted: false,
            });
        }
    }
    Ok(out)
}

/// Reads the command `text` (from [`command_text`]) of a message from `who` against
/// `specs`. Who may run a command is checked before its arguments.
pub fn read(specs: &[CommandSpec], text: &str, who: &Sender<'_>) -> Reading {
    let tokens = match tokenize(text) {
        Ok(t) => t,
        Err(e) => return Reading::Answer(e),
    };
    let Some(first) = tokens.first() else {
        return Reading::Answer(help(specs, None));
    };
    let word = first.text.to_lowercase();
    let found = specs
        .iter()
        .position(|s| s.name.eq_ignore_ascii_case(&word));
    let Some(index) = found else {
        if word == "help" {
            return Reading::Answer(help(specs, tokens.get(1).map(|t| t.text.as_str())));
        }
        return Reading::Answer(unknown(specs, &first.text));
    };
    if !permitted(&specs[index], who) {
        return Reading::Answer(refusal(&specs[index]));
    }
    match arguments(&specs[index], text, &tokens[1..]) {
        Ok(args) => Reading::Run(Invocation {
            command: index,
            args,
        }),
        Err(e) => Reading::Answer(format!("{e}\nusage: `{}`", usage(&specs[index]))),
    }
}

/// The arguments of `spec` in `tokens` (the words after the command's name).
fn arguments(
    spec: &CommandSpec,
    text: &str,
    tokens: &[Token],
) -> Result<Vec<(&'static str, ArgValue)>, String> {
    let mut flags = vec![false; spec.flags.len()];
    let mut values: Vec<ArgValue> = vec![ArgValue::Absent; spec.args.len()];
    let mut next = 0;
    for t in tokens {
        if !t.quoted
            && let Some(flag) = t.text.strip_prefix("--")
        {
            let Some(f) = spec.flags.iter().position(|f| f.eq_ignore_ascii_case(flag)) else {
                let hint = closest(flag, spec.flags.iter().copied())
                    .map(|s| format!("; did you mean `--{s}`?"))
                    .unwrap_or_default();
                let flag = code(&format!("--{flag}"));
                return Err(format!("`{}` has no option {flag}{hint}", spec.name));
            };
            flags[f] = true;
            continue;
        }
        let Some(arg) = spec.args.get(next) else {
            return Err(format!(
                "`{}` takes no more arguments than that: `{}`",
                spec.name, t.text
            ));
        };
        if arg.kind == ArgKind::Rest {
            // The rest of the message as written, flags included.
            values[next] = ArgValue::Text(text[t.start..].trim().to_owned());
            break;
        }
        values[next] = match arg.kind {
            ArgKind::Rest | ArgKind::Word => ArgValue::Text(t.text.clone()),
            ArgKind::Int => match t.text.parse::<i64>() {
                Ok(n) => ArgValue::Int(n),
                Err(_) => {
                    return Err(format!(
                        "<{}> is a whole number, not `{}`",
                        arg.name, t.text
                    ));
                }
            },
            ArgKind::Choice(words) => {
                match words.iter().find(|w| w.eq_ignore_ascii_case(&t.text)) {
                    Some(w) => ArgValue::Text((*w).to_owned()),
                    None => {
                        let hint = closest(&t.text, words.iter().copied())
                            .map(|s| format!(" (did you mean `{s}`?)"))
                            .unwrap_or_default();
                        return Err(format!(
                            "<{}> is one of {}, not `{}`{hint}",
                            arg.name,
                            words.join(", "),
                            t.text
                        ));
                    }
                }
            }
        };
        next += 1;
    }
    if let Some(missing) = spec
        .args
        .iter()
        .zip(&values)
        .find(|(a, v)| a.required && **v == ArgValue::Absent)
    {
        return Err(format!("`{}` needs <{}>", spec.name, missing.0.name));
    }
    let positional = spec.args.iter().map(|a| a.name).zip(values);
    let flags = spec
        .flags
        .iter()
        .copied()
        .zip(flags.into_iter().map(ArgValue::Flag));
    Ok(positional.chain(flags).collect())
}

/// A command's usage line: `deploy <environment: staging|production> [--force]`.
pub fn usage(spec: &CommandSpec) -> String {
    let mut out = spec.name.to_owned();
    for a in spec.args {
        let inner = match a.kind {
            ArgKind::Word => a.name.to_owned(),
            ArgKind::Int => format!("{}: int", a.name),
            ArgKind::Choice(w) => format!("{}: {}", a.name, w.join("|")),
            ArgKind::Rest => format!("{}...", a.name),
        };
        if a.required {
            out.push_str(&format!(" <{inner}>"));
        } else {
            out.push_str(&format!(" [{inner}]"));
        }
    }
    for f in spec.flags {
        out.push_str(&format!(" [--{f}]"));
    }
    out
}

/// The answer to `help` (every command) or `help NAME`.
pub fn help(specs: &[CommandSpec], about: Option<&str>) -> String {
    if let Some(name) = about {
        return match specs.iter().find(|s| s.name.eq_ignore_ascii_case(name)) {
            Some(s) => help_line(s),
            None => unknown(specs, name),
        };
    }
    let mut out = String::from("Commands:\n");
    for s in specs {
        out.push_str(&format!("* {}\n", help_line(s)));
    }
    out.push_str("* `help [command]`: this list, or how to use one command");
    out
}

/// The candidate `word` most likely meant: the only one it begins (`prod` for
/// `production`), else the closest by spelling. Only ever suggested, never taken.
fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str> + Clone) -> Option<&'a str> {
    let word = word.to_lowercase();
    let mut starting = candidates
        .clone()
        .filter(|c| c.to_lowercase().starts_with(&word));
    match (starting.next(), starting.next()) {
        (Some(only), None) if !word.is_empty() => Some(only),
        _ => suggest(&word, candidates),
    }
}

/// One command in `help`: its usage, its description, who may run it.
fn help_line(s: &CommandSpec) -> String {
    let mut out = format!("`{}`", usage(s));
    if !s.summary.is_empty() {
        out.push_str(&format!(": {}", s.summary));
    }
    if !s.allowed.is_empty() {
        out.push_str(&format!(" (for {})", who_may(s)));
    }
    out
}

/// "unknown command `dpeloy`; did you mean `deploy`?"
fn unknown(specs: &[CommandSpec], word: &str) -> String {
    let shown = code(word);
    match closest(word, specs.iter().map(|s| s.name)) {
        Some(s) => format!("unknown command {shown}; did you mean `{s}`?"),
        None => format!("unknown command {shown}; `help` lists the commands"),
    }
}

/// What a person wrote, quoted in an answer as inline code: at most 40 characters,
/// without backticks or line breaks, so that it cannot end the code span, mention
/// anyone or change the message around it.
fn code(text: &str) -> String {
    let mut shown: String = text
        .chars()
        .filter(|c| *c != '`' && !c.is_control())
        .take(40)
        .collect();
    if text.chars().count() > 40 {
        shown.push('…');
    }
    format!("`{}`", shown.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOY: CommandSpec = CommandSpec {
        name: "deploy",
        summary: "Deploy the service",
        args: &[ArgSpec {
            name: "environment",
            kind: ArgKind::Choice(&["staging", "production"]),
            required: true,
        }],
        flags: &["force"],
        allowed: &[],
    };
    const NOTE: CommandSpec = CommandSpec {
        name: "note",
        summary: "",
        args: &[
            ArgSpec {
                name: "count",
                kind: ArgKind::Int,
                required: true,
            },
            ArgSpec {
                name: "who",
                kind: ArgKind::Word,
                required: false,
            },
            ArgSpec {
                name: "text",
                kind: ArgKind::Rest,
                required: false,
            },
        ],
        flags: &[],
        allowed: &[],
    };
    const SPECS: &[CommandSpec] = &[DEPLOY, NOTE];
    const ANYONE: Sender<'static> = Sender {
        id: 7,
        email: "othello@zulip.example.com",
        role: Some(400),
        groups: None,
    };
    const BOT: Addressing<'static> = Addressing {
        bot_name: "Ops Bot",
        bot_id: Some(42),
        prefix: Some("!"),
    };

    #[test]
    fn a_message_is_a_command_only_when_it_addresses_the_bot_first() {
        let t = |c: &'static str, dm: bool| command_text(c, dm, &BOT);
        assert_eq!(
            t("@**Ops Bot** deploy staging", false),
            Some("deploy staging")
        );
        assert_eq!(t("  @**ops bot**: deploy", false), Some("deploy"));
        assert_eq!(t("@**Ops Bot|42** status", false), Some("status"));
        assert_eq!(t("@_**Ops Bot** status", false), Some("status"));
        assert_eq!(
            t("@**Ops Bot|7** status", false),
            None,
            "another user of that name"
        );
        assert_eq!(t("@**Other** deploy", false), None);
        assert_eq!(t("please @**Ops Bot** deploy", false), None);
        assert_eq!(t("> @**Ops Bot** deploy staging", false), None);
        assert_eq!(t("```\n@**Ops Bot** deploy\n```", false), None);
        assert_eq!(t("!deploy staging", false), Some("deploy staging"));
        assert_eq!(t("! deploy", false), None);
        assert_eq!(t("deploy staging", true), Some("deploy staging"));
        assert_eq!(t("> deploy staging", true), None, "a quote in a DM");
        assert_eq!(t("deploy staging", false), None);
    }

    #[test]
    fn arguments_are_parsed_by_kind_with_quotes_and_flags_anywhere() {
        let Reading::Run(i) = read(SPECS, "deploy PRODUCTION --force", &ANYONE) else {
            panic!()
        };
        assert_eq!(i.command, 0);
        assert_eq!(
            i.get("environment"),
            Some(&ArgValue::Text("production".into()))
        );
        assert_eq!(i.get("force"), Some(&ArgValue::Flag(true)));
        let Reading::Run(i) = read(SPECS, "Deploy --force staging", &ANYONE) else {
            panic!()
        };
        assert_eq!(i.get("environment").unwrap().text(), "staging");
        let Reading::Run(i) = read(SPECS, "deploy staging", &ANYONE) else {
            panic!()
        };
        assert_eq!(i.get("force"), Some(&ArgValue::Flag(false)));
        let Reading::Run(i) = read(SPECS, "note 3 \"Dana S\" ship it --now\nand more", &ANYONE)
        else {
            panic!()
        };
        assert_eq!(i.get("count"), Some(&ArgValue::Int(3)));
        assert_eq!(i.get("who").unwrap().text(), "Dana S");
        assert_eq!(i.get("text").unwrap().text(), "ship it --now\nand more");
        let Reading::Run(i) = read(SPECS, "note 3", &ANYONE) else {
            panic!()
        };
        assert_eq!(i.get("who"), Some(&ArgValue::Absent));
        let Reading::Run(i) = read(SPECS, "note 1 “smart \\\"quotes” x", &ANYONE) else {
            panic!()
        };
        assert_eq!(i.get("who").unwrap().text(), "smart \"quotes");
    }

    #[test]
    fn mistakes_are_answered_with_what_is_wrong_and_the_usage() {
        let answer = |text: &str| match read(SPECS, text, &ANYONE) {
            Reading::Answer(a) => a,
            Reading::Run(i) => panic!("{text}: ran {i:?}"),
        };
        assert_eq!(
            answer("deploy"),
            "`deploy` needs <environment>\nusage: `deploy <environment: staging|production> [--force]`"
        );
        assert!(answer("deploy prod").starts_with(
            "<environment> is one of staging, production, not `prod` (did you mean `production`?)"
        ));
        assert!(
            answer("deploy staging --forse")
                .starts_with("`deploy` has no option `--forse`; did you mean `--force`?")
        );
        assert!(answer("deploy staging now").starts_with("`deploy` takes no more arguments"));
        assert!(answer("note three").starts_with("<count> is a whole number, not `three`"));
        assert_eq!(
            answer("dpeloy staging"),
            "unknown command `dpeloy`; did you mean `deploy`?"
        );
        assert_eq!(
            answer("weather"),
            "unknown command `weather`; `help` lists the commands"
        );
        assert!(answer("note 1 \"open").starts_with("a quote opened at"));
    }

    #[test]
    fn help_lists_every_command_or_explains_one() {
        let list = help(SPECS, None);
        assert_eq!(
            list,
            "Commands:\n\
             * `deploy <environment: staging|production> [--force]`: Deploy the service\n\
             * `note <count: int> [who] [text...]`\n\
             * `help [command]`: this list, or how to use one command"
        );
        assert_eq!(read(SPECS, "help", &ANYONE), Reading::Answer(list.clone()));
        assert_eq!(read(SPECS, "", &ANYONE), Reading::Answer(list));
        assert_eq!(
            read(SPECS, "help deploy", &ANYONE),
            Reading::Answer(
                "`deploy <environment: staging|production> [--force]`: Deploy the service".into()
            )
        );
        assert_eq!(
            read(SPECS, "help dploy", &ANYONE),
            Reading::Answer("unknown command `dploy`; did you mean `deploy`?".into())
        );
    }

    #[test]
    fn a_command_for_some_people_refuses_the_others_before_reading_arguments() {
        const ADMIN_ONLY: CommandSpec = CommandSpec {
            allowed: &[Allowed::Role(200), Allowed::Email("Iago@zulip.example.com")],
            ..DEPLOY
        };
        let specs = &[ADMIN_ONLY];
        let who = |id, email, role| Sender {
            id,
            email,
            role,
            groups: None,
        };
        let refused = "you may not run `deploy`: it is for admins and above, \
                       Iago@zulip.example.com only";
        assert_eq!(
            read(specs, "deploy", &who(1, "x@y", Some(400))),
            Reading::Answer(refused.into())
        );
        assert_eq!(
            read(specs, "deploy staging", &who(1, "x@y", None)),
            Reading::Answer(refused.into()),
            "an unknown role is no role"
        );
        for ok in [
            who(2, "owner@y", Some(100)),
            who(3, "admin@y", Some(200)),
            who(4, "iago@zulip.example.com", Some(600)),
        ] {
            assert!(
                matches!(read(specs, "deploy staging", &ok), Reading::Run(_)),
                "{ok:?}"
            );
        }
        assert_eq!(
            help(specs, Some("deploy")),
            "`deploy <environment: staging|production> [--force]`: Deploy the service \
             (for admins and above, Iago@zulip.example.com)"
        );
        let roles = Roles::new([(5, 400)]);
        roles.follow(r#"{"type":"realm_user","op":"update","person":{"user_id":5,"role":200}}"#);
        assert_eq!(roles.get(5), Some(200));
        roles.follow(
            r#"{"type":"realm_user","op":"add","person":{"user_id":6,"role":600,"email":"g@y"}}"#,
        );
        assert_eq!(roles.get(6), Some(600));
        roles.follow(r#"{"type":"realm_user","op":"remove","person":{"user_id":5}}"#);
        assert_eq!(roles.get(5), None);
        roles.follow(
            r#"{"type":"realm_user","op":"update","person":{"user_id":6,"full_name":"G"}}"#,
        );
        assert_eq!(
            roles.get(6),
            Some(600),
            "an update of something else keeps the role"
        );
    }

    #[test]
    fn roles_follow_the_official_realm_user_examples() {
        let roles = Roles::new([(35, 200)]);
        for line in include_str!("../tests/fixtures/zulip/events.jsonl").lines() {
            if line.contains("\"realm_user\"") {
                roles.follow(line);
            }
        }
        assert_eq!(roles.get(38), Some(400), "the example's new member");
        assert_eq!(roles.get(35), None, "the example's removed bot");
    }
}
