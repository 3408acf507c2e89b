//! Commands in pipeline files: who may run them (`allowed`), and zlc's own listener
//! `help`, added to a pipeline with commands.

use toml::de::{DeTable, DeValue};

use super::walker::{Walker, get, one_or_many, type_name};
use crate::check::{COMMAND_ANSWER, COMMAND_HELP};
use crate::model::*;

impl Walker {
    /// A command's `allowed`: roles, emails and user ids (only on a command).
    pub(super) fn allowed_rules(
        &mut self,
        t: &DeTable<'_>,
        is_command: bool,
    ) -> Vec<Sp<AllowedRule>> {
        let Some(v) = get(t, "allowed") else {
            return Vec::new();
        };
        if !is_command {
            self.d.error(
                v.span(),
                "`allowed` says who may run a command: this listener has no `command`",
            );
            return Vec::new();
        }
        let items = one_or_many(v);
        let mut rules = Vec::new();
        for i in items {
            let rule = match i.get_ref() {
                DeValue::String(s) => AllowedRule::parse(s),
                DeValue::Integer(_) => match self.int_of(i, "allowed") {
                    Some(n) => Ok(AllowedRule::Id(n)),
                    None => continue,
                },
                other => Err(Problem::new(format!(
                    "`allowed` entries are strings or user ids, not {}",
                    type_name(other)
                ))),
            };
            match rule {
                Ok(r) => rules.push(Sp::new(r, i.span())),
                Err(p) => self.problem(i.span(), p),
            }
        }
        if items.is_empty() {
            self.d.error(
                v.span(),
                "`allowed = []` lets nobody run the command: leave it out to let everyone",
            );
        }
        rules
    }

    /// When listeners are commands: refuses a command name used twice, and adds zlc's
    /// listener `help`, which answers messages addressed to the bot that run no command
    /// (the list of commands, an unknown command, a usage error) in the conversation.
    pub(super) fn command_answers(&mut self, listeners: &mut Vec<Listener>) {
        let mut seen: Vec<&Sp<CommandDecl>> = Vec::new();
        for c in listeners.iter().filter_map(|l| l.command.as_ref()) {
            if seen.iter().any(|s| s.value.name == c.value.name) {
                self.d.error(
                    c.span.clone(),
                    format!("command `{}` is declared twice", c.value.name),
                );
            }
            seen.push(c);
        }
        let Some(first) = seen.first() else { return };
        if let Some(taken) = listeners.iter().find(|l| l.name.value == COMMAND_HELP) {
            self.d.error(
                taken.name.span.clone(),
                format!(
                    "a pipeline with commands has a listener `{COMMAND_HELP}` of zlc's own (it \
                     answers help and mistakes): rename this one"
                ),
            );
            return;
        }
        let span = first.span.clone();
        // zlc's answers follow the message as the commands' answers do: `dpeloy` edited
        // into `deploy` takes back "unknown command".
        let on_edit = listeners.iter().any(|l| l.command.is_some() && l.on_edit);
        let on_delete = listeners.iter().any(|l| l.command.is_some() && l.on_delete);
        let answer = Template {
            source: format!("{{{{{COMMAND_ANSWER}}}}}"),
            segments: vec![Segment::Field(Sp::new(
                COMMAND_ANSWER.to_owned(),
                span.clone(),
            ))],
            span: span.clone(),
        };
        listeners.push(Listener {
            name: Sp::new(COMMAND_HELP.to_owned(), span.clone()),
            description: "zlc's answers to messages for the bot that run no command".into(),
            events: vec![Sp::new(EventSel::parse("message").remove(0), span.clone())],
            realms: None,
            filters: Filters::default(),
            handler_filters: Filters::default(),
            actions: vec![Sp::new(
                Action::Reply {
                    to: ReplyTo::Same,
                    template: answer,
                },
                span.clone(),
            )],
            policy: Policy::default(),
            enabled: true,
            config: Vec::new(),
            command: None,
            allowed: Vec::new(),
            on_edit,
            on_delete,
            schedule: None,
            step: ConversationStep::default(),
            answers_commands: true,
            span,
        });
    }
}
