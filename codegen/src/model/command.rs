//! The command syntax both front ends declare a command with:
//! `deploy <environment: staging|production> [--force]`.
//!
//! | written | means |
//! | --- | --- |
//! | `name` (first) | the command's name: what follows the mention |
//! | `<arg>` | a required word (or `"quoted text"`) |
//! | `<arg: int>` | a required whole number |
//! | `<arg: a\|b\|c>` | a required choice (any case) |
//! | `<arg...>` | the rest of the message (last) |
//! | `[...]` | the same, optional (after the required ones) |
//! | `[--flag]` | a flag |

use super::words::Problem;

/// A declared command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandDecl {
    /// What follows the mention.
    pub name: String,
    /// Positional arguments, in order.
    pub args: Vec<ArgDecl>,
    /// Flags, without dashes.
    pub flags: Vec<String>,
}

/// A positional argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    /// Its name (`{{args.NAME}}`).
    pub name: String,
    /// What it accepts.
    pub kind: ArgKind,
    /// Whether it must be given.
    pub required: bool,
}

/// What an argument accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgKind {
    /// One word, or a quoted text.
    Word,
    /// A whole number.
    Int,
    /// One of these words.
    Choice(Vec<String>),
    /// The rest of the message.
    Rest,
}

/// One rule of who may run a command (`allowed = [...]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedRule {
    /// `"role:admin"`: people of that role or a higher one (Zulip's number).
    Role(String, u16),
    /// A person by email.
    Email(String),
    /// A person by user id.
    Id(i64),
    /// `"group:oncall"`: the members of a user group (its subgroups' too).
    Group(String),
}

impl AllowedRule {
    /// `"role:admin"`, an email, or (as text) a user id.
    pub fn parse(text: &str) -> Result<AllowedRule, Problem> {
        let text = text.trim();
        if let Some(role) = text.strip_prefix("role:") {
            let role = role.trim();
            return match zlc_catalog::role_number(role) {
                Some(r) => Ok(AllowedRule::Role(role.to_owned(), r)),
                None => Err(Problem::new(format!("unknown role `{role}`"))
                    .help(format!("one of: {}", zlc_catalog::role_names()))),
            };
        }
        if let Some(group) = text.strip_prefix("group:") {
            let group = group.trim();
            if group.is_empty() {
                return Err(Problem::new("`group:` names no group")
                    .help("e.g. `group:oncall`, a user group's name"));
            }
            return Ok(AllowedRule::Group(group.to_owned()));
        }
        if text.contains('@') && !text.contains(char::is_whitespace) {
            return Ok(AllowedRule::Email(text.to_owned()));
        }
        Err(Problem::new(format!("`{text}` names nobody")).help(
            "`role:admin` (and owner, moderator, member, guest: that role or a higher one), \
             `group:NAME` (a user group's members), an email, or a user id (a number)",
        ))
    }
}

/// Command names `help` answers for itself.
pub const RESERVED: &[&str] = &["help"];

/// Whether `w` is a command, argument or flag name: a lowercase ASCII letter, then
/// letters, digits, `_` or `-` (at most 32).
fn is_word(w: &str) -> bool {
    w.len() <= 32
        && w.starts_with(|c: char| c.is_ascii_lowercase())
        && w.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

impl CommandDecl {
    /// Reads `text`, or says what is wrong with it.
    pub fn parse(text: &str) -> Result<CommandDecl, Problem> {
        let help = "e.g. \"deploy <environment: staging|production> [--force]\": a name, then \
                    <required>, [optional], <number: int>, <choice: a|b>, <text...> (the rest \
                    of the message, last) and [--flag]";
        let pieces = pieces(text).map_err(|m| Problem::new(m).help(help))?;
        let mut it = pieces.into_iter();
        let Some(name) = it.next() else {
            return Err(Problem::new("the command is empty").help(help));
        };
        if !is_word(&name) {
            return Err(Problem::new(format!(
                "`{name}` cannot name a command: use a lowercase letter, then letters, digits, `_` or `-`"
            ))
            .help(help));
        }
        if RESERVED.contains(&name.as_str()) {
            return Err(Problem::new(format!(
                "`{name}` is answered by zlc itself (the list of commands)"
            )));
        }
        let mut decl = CommandDecl {
            name,
            args: Vec::new(),
            flags: Vec::new(),
        };
        for piece in it {
            decl.add(&piece).map_err(|p| match p.help {
                None => p.help(help),
                Some(_) => p,
            })?;
        }
        Ok(decl)
    }

    /// Adds one `<...>`, `[...]` or `[--flag]` piece.
    fn add(&mut self, piece: &str) -> Result<(), Problem> {
        let (required, inner) = if let Some(i) = piece.strip_prefix('<') {
            (true, i.strip_suffix('>').unwrap_or(i))
        } else if let Some(i) = piece.strip_prefix('[') {
            (false, i.strip_suffix(']').unwrap_or(i))
        } else {
            return Err(Problem::new(format!(
                "`{piece}`: arguments are written <name> or [name], flags [--name]"
            )));
        };
        let inner = inner.trim();
        if let Some(flag) = inner.strip_prefix("--") {
            if required {
                return Err(Problem::new(format!(
                    "`{piece}`: a flag is optional by nature; write [--{flag}]"
                )));
            }
            return self
                .name_taken(flag)
                .map(|()| self.flags.push(flag.to_owned()));
        }
        let (name, kind) = match inner.split_once(':') {
            Some((n, k)) => (n.trim(), Some(k.trim())),
            None => (inner, None),
        };
        let (name, rest) = match name.strip_suffix("...") {
            Some(n) => (n.trim(), true),
            None => (name, false),
        };
        let kind = match kind {
            _ if rest => ArgKind::Rest,
            None => ArgKind::Word,
            Some("int") => ArgKind::Int,
            Some("text...") => ArgKind::Rest,
            Some("word" | "text") => ArgKind::Word,
            Some(choices) => ArgKind::Choice(choices_of(name, choices)?),
        };
        self.name_taken(name)?;
        if let Some(last) = self.args.last() {
            if last.kind == ArgKind::Rest {
                return Err(Problem::new(format!(
                    "<{}> takes the rest of the message, so no argument can follow it (`{piece}`)",
                    last.name
                )));
            }
            if required && !last.required {
                return Err(Problem::new(format!(
                    "the required `{piece}` comes after the optional [{}]: required arguments come first",
                    last.name
                )));
            }
        }
        self.args.push(ArgDecl {
            name: name.to_owned(),
            kind,
            required,
        });
        Ok(())
    }

    /// Fails when `name` is not a word or is taken by another argument or flag.
    fn name_taken(&self, name: &str) -> Result<(), Problem> {
        if !is_word(name) {
            return Err(Problem::new(format!(
                "`{name}` cannot name an argument: use a lowercase letter, then letters, digits, `_` or `-`"
            )));
        }
        let taken =
            self.args.iter().any(|a| a.name == name) || self.flags.iter().any(|f| f == name);
        if taken {
            return Err(Problem::new(format!(
                "`{name}` is named twice in the command"
            )));
        }
        Ok(())
    }
}

/// The words of a choice `a|b|c`.
fn choices_of(name: &str, text: &str) -> Result<Vec<String>, Problem> {
    let words: Vec<String> = text.split('|').map(|w| w.trim().to_owned()).collect();
    if words.len() < 2 {
        return Err(Problem::new(format!(
            "<{name}: {text}>: the kind is `int`, `text...`, or a choice of two or more words `a|b`"
        )));
    }
    for (i, w) in words.iter().enumerate() {
        if w.is_empty() || w.chars().any(char::is_whitespace) || w.contains(['<', '>', '[', ']']) {
            return Err(Problem::new(format!(
                "<{name}: {text}>: `{w}` is not a word to choose"
            )));
        }
        if words[..i].iter().any(|o| o.eq_ignore_ascii_case(w)) {
            return Err(Problem::new(format!(
                "<{name}: {text}>: `{w}` is there twice"
            )));
        }
    }
    Ok(words)
}

/// Splits the declaration into its name and its `<...>` / `[...]` pieces.
fn pieces(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = text.trim().chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut piece = String::new();
        match c {
            '<' | '[' => {
                let close = if c == '<' { '>' } else { ']' };
                for c in chars.by_ref() {
                    piece.push(c);
                    if c == close {
                        break;
                    }
                }
                if !piece.ends_with(close) {
                    return Err(format!("`{piece}` is not closed with `{close}`"));
                }
            }
            '>' | ']' => return Err(format!("a `{c}` closes nothing")),
            _ => {
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || c == '<' || c == '[' {
                        break;
                    }
                    piece.push(c);
                    chars.next();
                }
            }
        }
        out.push(piece);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arg(name: &str, kind: ArgKind, required: bool) -> ArgDecl {
        ArgDecl {
            name: name.into(),
            kind,
            required,
        }
    }

    #[test]
    fn the_syntax_reads_names_kinds_optional_arguments_and_flags() {
        let d = CommandDecl::parse("deploy <environment: staging|production> [--force]").unwrap();
        assert_eq!(d.name, "deploy");
        let choice = ArgKind::Choice(vec!["staging".into(), "production".into()]);
        assert_eq!(d.args, [arg("environment", choice, true)]);
        assert_eq!(d.flags, ["force"]);
        let d = CommandDecl::parse("note <n: int> [who] [text...]").unwrap();
        assert_eq!(
            d.args,
            [
                arg("n", ArgKind::Int, true),
                arg("who", ArgKind::Word, false),
                arg("text", ArgKind::Rest, false),
            ]
        );
        assert_eq!(CommandDecl::parse("  status ").unwrap().args, []);
        let d = CommandDecl::parse("say <what: text...>").unwrap();
        assert_eq!(d.args, [arg("what", ArgKind::Rest, true)]);
    }

    #[test]
    fn mistakes_in_the_syntax_say_what_is_wrong() {
        let err = |t: &str| CommandDecl::parse(t).unwrap_err().message;
        assert!(err("").contains("empty"));
        assert!(err("Deploy").contains("cannot name a command"));
        assert!(err("help <x>").contains("answered by zlc itself"));
        assert!(err("say <text...> <more>").contains("no argument can follow it"));
        assert!(err("x [a] <b>").contains("required arguments come first"));
        assert!(err("x <a> [a]").contains("named twice"));
        assert!(err("x <a> [--a]").contains("named twice"));
        assert!(err("x <a: staging>").contains("two or more words"));
        assert!(err("x <a: b|b>").contains("there twice"));
        assert!(err("x <a").contains("not closed"));
        assert!(err("x a").contains("arguments are written"));
        assert!(err("x <--force>").contains("optional by nature"));
        assert!(err("x <Env>").contains("cannot name an argument"));
    }
}
