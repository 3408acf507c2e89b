//! Putting text zlc did not write into a Zulip message. Message content, names, topics
//! and webhook answers all come from people (or other bots); placed into a message
//! as-is, they could notify a whole channel, break out of a quote, or turn the message
//! into a command. Everything that puts such text into a message goes through this
//! module: template fields rendered into messages ([`crate::template::render`]), the
//! forward action, and webhook answers posted back as replies.
//!
//! What would notify or restructure, and what becomes of it:
//!
//! | markup | effect as-is | made safe as |
//! | --- | --- | --- |
//! | `@**all**`, `@**everyone**`, `@**channel**`, `@**stream**`, `@**topic**` | notifies everyone in the channel or topic | `@_**all**` (silent) |
//! | `@**Name**`, `@**Name\|12**` | notifies that user | `@_**Name**` (silent) |
//! | `@*group*` | notifies every member of the group | `@_*group*` (silent) |
//! | a fence (```` ``` ````, `~~~`) inside a quoted message | closes the quote early; what follows looks like the bot's own words | [`quote`] picks a longer fence |
//! | `/me`, `/poll`, `/todo` at the start of a message | a "me" message or a widget, posted by the bot | a zero-width space before the `/` |
//! | `**`, `>`, a newline in a name or topic inside `@_**…**` or `#**…>…**` | breaks the mention or link syntax | plain text instead of the link |
//!
//! Silent mentions render like mentions (the name, highlighted) but notify nobody.

/// A zero-width space: invisible, but it keeps a `/` from starting a message.
const ZWSP: char = '\u{200B}';

/// `text`, safe to place anywhere in a message: every mention silenced, and a leading
/// `/` kept from being read as a command.
pub fn user_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let body = text.trim_start();
    out.push_str(&text[..text.len() - body.len()]);
    if body.starts_with('/') {
        out.push(ZWSP);
    }
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        // `@*` starts every mention form (`@**user**`, `@*group*`); `@_*` is silent.
        if c == '@' && chars.peek() == Some(&'*') {
            out.push('_');
        }
    }
    out
}

/// A quote block holding `content` (made safe with [`user_text`]). Its fence is longer
/// than any run of backticks in the content, so no line inside can close it: Zulip
/// closes a fenced block only at a line equal to its own fence.
pub fn quote(content: &str) -> String {
    let longest = longest_run(content, '`');
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}quote\n{}\n{fence}", user_text(content))
}

fn longest_run(text: &str, ch: char) -> usize {
    let (mut best, mut cur) = (0, 0);
    for c in text.chars() {
        cur = if c == ch { cur + 1 } else { 0 };
        best = best.max(cur);
    }
    best
}

/// A silent mention of `name` (`@_**Name**`), or the name as plain text when it holds
/// characters that would break the mention syntax.
pub fn silent_mention(name: &str) -> String {
    if name.is_empty() || name.contains(['*', '\n', '`']) {
        user_text(name)
    } else {
        format!("@_**{name}**")
    }
}

/// A link to a channel's topic (`#**channel>topic**`), or plain text when a name holds
/// characters that would break the link syntax.
pub fn conversation_link(channel: &str, topic: &str) -> String {
    let breaks = |s: &str| s.contains(['*', '\n', '`']);
    if breaks(channel) || channel.contains('>') || breaks(topic) {
        user_text(&format!("#{channel} > {topic}"))
    } else {
        format!("#**{channel}>{topic}**")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_mentions_are_silenced() {
        for w in ["all", "everyone", "channel", "stream", "topic", "ALL"] {
            assert_eq!(user_text(&format!("hi @**{w}**")), format!("hi @_**{w}**"));
        }
    }

    #[test]
    fn user_and_group_mentions_are_silenced() {
        assert_eq!(user_text("ping @**Iago**"), "ping @_**Iago**");
        assert_eq!(user_text("ping @**Iago|12**"), "ping @_**Iago|12**");
        assert_eq!(user_text("ping @*support*"), "ping @_*support*");
        assert_eq!(
            user_text("already @_**Iago** and @_*g*"),
            "already @_**Iago** and @_*g*"
        );
        assert_eq!(
            user_text("mail a@b.c and @ alone"),
            "mail a@b.c and @ alone"
        );
    }

    #[test]
    fn a_leading_slash_is_not_a_command() {
        assert_eq!(user_text("/me waves"), "\u{200B}/me waves");
        assert_eq!(user_text("  /poll Lunch?"), "  \u{200B}/poll Lunch?");
        assert_eq!(user_text("a/b"), "a/b");
    }

    #[test]
    fn content_cannot_close_the_quote() {
        let content = "look:\n```\ncode\n```\n````\n@**all** outside?";
        let q = quote(content);
        let fence = "`````";
        assert!(q.starts_with(&format!("{fence}quote\n")), "{q}");
        assert!(q.ends_with(&format!("\n{fence}")), "{q}");
        // No line inside equals the fence.
        let inner: Vec<&str> = q.lines().skip(1).collect();
        assert!(
            inner[..inner.len() - 1]
                .iter()
                .all(|l| l.trim_end() != fence)
        );
        assert!(q.contains("@_**all**"));
        assert!(quote("plain").starts_with("```quote\n"));
    }

    #[test]
    fn names_and_topics_never_break_out_of_their_syntax() {
        assert_eq!(silent_mention("King Hamlet"), "@_**King Hamlet**");
        assert_eq!(silent_mention("x** @**all"), "x** @_**all");
        assert_eq!(conversation_link("devel", "ci"), "#**devel>ci**");
        assert_eq!(
            conversation_link("devel", "x** @**all"),
            "#devel > x** @_**all"
        );
        assert!(!conversation_link("devel", "x** @**all").contains("@**"));
    }
}
