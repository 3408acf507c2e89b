//! Commands written in Rust (`#[command]`): their arguments as Rust types
//! ([`CommandArg`]: flags, integers, words, the rest of the message, optional ones,
//! and enums that `#[derive(Choice)]`), and what `pipeline!` puts together at compile
//! time from its functions: the commands' table, each listener's command, zlc's `help`
//! listener, and the schedules (`#[schedule]`).

use crate::command::{Allowed, ArgKind, ArgValue, CommandSpec, Commands};
use crate::pipeline::{ActionDesc, ListenerDesc, ReplyDesc, ScheduleDesc};
use crate::template::{Field, Seg};

/// How a Rust type is given in a command: a flag (`--force`), or an argument of a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgShape {
    /// A flag: `bool`.
    Flag,
    /// A positional argument.
    Arg(ArgKind),
}

/// A type a command's parameter may have: how it is written, and its value read.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a command's argument",
    label = "a command takes bool (a flag), integers, String, zlc_runtime::Rest, Option<...> of those, or an enum that derives zlc_runtime::Choice"
)]
pub trait CommandArg: Sized {
    /// How it is written.
    const SHAPE: ArgShape;
    /// It may be left out (`Option<...>`).
    const OPTIONAL: bool = false;
    /// Its value, from what the message said (`None`: not given, or not of this type).
    fn read_arg(v: Option<&ArgValue>) -> Option<Self>;
}

/// The rest of the message, as one argument (last): `note <text...>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rest(pub String);

impl std::fmt::Display for Rest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl CommandArg for bool {
    const SHAPE: ArgShape = ArgShape::Flag;
    fn read_arg(v: Option<&ArgValue>) -> Option<Self> {
        match v {
            Some(ArgValue::Flag(b)) => Some(*b),
            _ => Some(false),
        }
    }
}

impl CommandArg for String {
    const SHAPE: ArgShape = ArgShape::Arg(ArgKind::Word);
    fn read_arg(v: Option<&ArgValue>) -> Option<Self> {
        match v {
            Some(ArgValue::Text(t)) => Some(t.clone()),
            _ => None,
        }
    }
}

impl CommandArg for Rest {
    const SHAPE: ArgShape = ArgShape::Arg(ArgKind::Rest);
    fn read_arg(v: Option<&ArgValue>) -> Option<Self> {
        String::read_arg(v).map(Rest)
    }
}

macro_rules! int_args {
    ($($t:ty),*) => {$(
        impl CommandArg for $t {
            const SHAPE: ArgShape = ArgShape::Arg(ArgKind::Int);
            fn read_arg(v: Option<&ArgValue>) -> Option<Self> {
                match v {
                    Some(ArgValue::Int(n)) => <$t>::try_from(*n).ok(),
                    _ => None,
                }
            }
        }
    )*};
}
int_args!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

impl<T: CommandArg> CommandArg for Option<T> {
    const SHAPE: ArgShape = T::SHAPE;
    const OPTIONAL: bool = true;
    fn read_arg(v: Option<&ArgValue>) -> Option<Self> {
        match v {
            None | Some(ArgValue::Absent) => Some(None),
            v => T::read_arg(v).map(Some),
        }
    }
}

/// The kind of a positional argument's shape (a flag has none: `Word`).
pub const fn kind_of(shape: ArgShape) -> ArgKind {
    match shape {
        ArgShape::Arg(k) => k,
        ArgShape::Flag => ArgKind::Word,
    }
}

/// How many of `all` (one entry per function of a `pipeline!`) are there: its
/// commands, or its schedules.
pub const fn count_some<T: Copy>(all: &[Option<T>]) -> usize {
    let (mut i, mut n) = (0, 0);
    while i < all.len() {
        if all[i].is_some() {
            n += 1;
        }
        i += 1;
    }
    n
}

/// The commands among `all`, in order.
pub const fn collect_commands<const N: usize>(all: &[Option<CommandSpec>]) -> [CommandSpec; N] {
    let mut out = [CommandSpec::NONE; N];
    let (mut i, mut k) = (0, 0);
    while i < all.len() {
        if let Some(spec) = all[i] {
            out[k] = spec;
            k += 1;
        }
        i += 1;
    }
    out
}

/// The index among the commands of listener `i`'s command, if it is one.
pub const fn command_index(all: &[Option<CommandSpec>], i: usize) -> Option<usize> {
    if all[i].is_none() {
        return None;
    }
    Some(count_some(all.split_at(i).0))
}

/// The schedules among `all`, each naming its listener (its place in `all`).
pub const fn collect_schedules<const N: usize>(all: &[Option<ScheduleDesc>]) -> [ScheduleDesc; N] {
    let mut out = [ScheduleDesc::NONE; N];
    let (mut i, mut k) = (0, 0);
    while i < all.len() {
        if let Some(mut s) = all[i] {
            s.listener = i;
            out[k] = s;
            k += 1;
        }
        i += 1;
    }
    out
}

/// Whether two of `specs` have one name (a `pipeline!` refuses it).
pub const fn names_distinct(specs: &[CommandSpec]) -> bool {
    let mut i = 0;
    while i < specs.len() {
        let mut j = i + 1;
        while j < specs.len() {
            if same(specs[i].name.as_bytes(), specs[j].name.as_bytes()) {
                return false;
            }
            j += 1;
        }
        i += 1;
    }
    true
}

const fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The commands' table of a `pipeline!`: whether some are for some roles or groups
/// only (the connection then follows them).
pub const fn commands(specs: &'static [CommandSpec], prefix: Option<&'static str>) -> Commands {
    let (mut by_role, mut by_group) = (false, false);
    let mut i = 0;
    while i < specs.len() {
        let mut j = 0;
        while j < specs[i].allowed.len() {
            match specs[i].allowed[j] {
                Allowed::Role(_) => by_role = true,
                Allowed::Group(_) => by_group = true,
                _ => {}
            }
            j += 1;
        }
        i += 1;
    }
    Commands {
        specs,
        prefix,
        by_role,
        by_group,
    }
}

/// zlc's `help` listener of a `pipeline!` with commands: it answers messages for the
/// bot that run no command (the list, an unknown command, a usage error, a refusal).
pub const fn help_listener(commands: Commands) -> ListenerDesc {
    const ANSWER: &[ActionDesc] = &[ActionDesc::Reply {
        to: ReplyDesc::Same,
        template: &[Seg::Field(Field::CommandAnswer)],
    }];
    let mut l = ListenerDesc::stand_in(crate::command::HELP);
    l.description = "zlc's answers to messages for the bot that run no command";
    l.events = &["message"];
    l.enabled = true;
    l.policy = crate::pipeline::PolicyDesc::DEFAULT;
    l.actions = ANSWER;
    l.commands = commands;
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn spec(name: &'static str) -> CommandSpec {
        CommandSpec {
            name,
            ..CommandSpec::NONE
        }
    }

    #[test]
    fn a_pipelines_commands_are_put_together_at_compile_time() {
        const ALL: &[Option<CommandSpec>] =
            &[None, Some(spec("deploy")), None, Some(spec("status"))];
        const N: usize = count_some(ALL);
        const SPECS: [CommandSpec; N] = collect_commands(ALL);
        assert_eq!(SPECS.map(|s| s.name), ["deploy", "status"]);
        assert_eq!(
            (
                command_index(ALL, 0),
                command_index(ALL, 1),
                command_index(ALL, 3)
            ),
            (None, Some(0), Some(1))
        );
        assert!(names_distinct(&SPECS));
        assert!(!names_distinct(&[spec("a"), spec("b"), spec("a")]));
    }

    #[test]
    fn arguments_are_read_as_their_types() {
        assert_eq!(
            u8::read_arg(Some(&ArgValue::Int(300))),
            None,
            "out of range"
        );
        assert_eq!(i64::read_arg(Some(&ArgValue::Int(-3))), Some(-3));
        assert_eq!(bool::read_arg(None), Some(false));
        assert_eq!(<Option<u32>>::read_arg(Some(&ArgValue::Absent)), Some(None));
        assert_eq!(
            Rest::read_arg(Some(&ArgValue::Text("a b".into()))),
            Some(Rest("a b".into()))
        );
        const { assert!(<Option<String>>::OPTIONAL && !String::OPTIONAL) };
    }
}
