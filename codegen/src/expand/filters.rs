//! Filters in generated code: the conditions dispatch tests inline, and the words
//! `list` shows for them.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::tokens::{Regexes, lit, rt};
use crate::model::*;

/// The filters in words, for `list --config`.
pub fn describe_filters(f: &Filters) -> String {
    let mut parts = Vec::new();
    let join = |v: Vec<String>| v.join(" or ");
    if !f.channels.is_empty() {
        parts.push(format!(
            "channel {}",
            join(
                f.channels
                    .iter()
                    .map(|c| match &c.value {
                        ChannelRef::Name(n) => format!("#{n}"),
                        ChannelRef::Id(i) => format!("id {i}"),
                    })
                    .collect()
            )
        ));
    }
    if !f.topics.is_empty() {
        parts.push(format!(
            "topic {}",
            join(
                f.topics
                    .iter()
                    .map(|t| match &t.value {
                        TextMatch::Exact(s) => format!("{s:?}"),
                        TextMatch::Regex(r) => format!("/{r}/"),
                    })
                    .collect()
            )
        ));
    }
    if !f.senders.is_empty() {
        parts.push(format!(
            "sender {}",
            join(
                f.senders
                    .iter()
                    .map(|s| match &s.value {
                        SenderRef::Email(e) => e.clone(),
                        SenderRef::Id(i) => format!("id {i}"),
                    })
                    .collect()
            )
        ));
    }
    if let Some(m) = &f.message_type {
        parts.push(match m.value {
            MessageKind::Channel => "channel messages".into(),
            MessageKind::Direct => "direct messages".into(),
        });
    }
    if let Some(m) = &f.mentioned {
        parts.push(if m.value {
            "mentions the bot".into()
        } else {
            "does not mention the bot".into()
        });
    }
    if let Some(c) = &f.content {
        parts.push(format!("content =~ /{}/", c.value));
    }
    if f.exclude_bots.as_ref().is_some_and(|b| b.value) {
        parts.push("not from bots".into());
    }
    if f.include_own.as_ref().is_some_and(|b| b.value) {
        parts.push("including the bot's own messages".into());
    }
    if let Some(a) = &f.max_age_secs {
        parts.push(format!("at most {}s old", a.value));
    }
    parts.join("; ")
}

/// Conditions on a parsed message `m` (event `e`), cheapest first.
pub(super) fn message_conditions(f: &Filters, regexes: &mut Regexes) -> Vec<TokenStream> {
    let mut c = Vec::new();
    if !f.include_own.as_ref().is_some_and(|b| b.value) {
        c.push(quote!(m.sender_id != cx.own_user_id()));
    }
    c.extend(filter_conditions(f, regexes));
    c
}

/// The conditions of the filters `f` sets.
pub(super) fn filter_conditions(f: &Filters, regexes: &mut Regexes) -> Vec<TokenStream> {
    let mut c = Vec::new();
    if let Some(k) = &f.message_type {
        c.push(match k.value {
            MessageKind::Channel => quote!(m.is_channel()),
            MessageKind::Direct => quote!(m.is_direct()),
        });
    }
    if let Some(b) = &f.mentioned {
        c.push(if b.value {
            quote!(e.mentioned())
        } else {
            quote!(!e.mentioned())
        });
    }
    if f.exclude_bots.as_ref().is_some_and(|b| b.value) {
        c.push(quote!(!cx.is_bot(m.sender_id, m.sender_email())));
    }
    if let Some(a) = &f.max_age_secs {
        let secs = Literal::i64_unsuffixed(a.value as i64);
        c.push(quote!(cx.now() - m.timestamp <= #secs));
    }
    if !f.senders.is_empty() {
        c.push(sender_condition(&f.senders));
    }
    if !f.channels.is_empty() {
        c.push(channel_condition(&f.channels));
    }
    if !f.topics.is_empty() {
        c.push(topic_condition(&f.topics, regexes));
    }
    if let Some(content) = &f.content {
        let re = regexes.add(&content.value);
        c.push(quote!(#re.is_match(m.content())));
    }
    c
}

/// The names (lower case) and ids among `refs`, as literals.
fn names_and_ids<T>(
    refs: &[Sp<T>],
    split: impl Fn(&T) -> Result<&str, i64>,
) -> (Vec<Literal>, Vec<Literal>) {
    let (mut names, mut ids) = (Vec::new(), Vec::new());
    for r in refs {
        match split(&r.value) {
            Ok(name) => names.push(lit(&name.to_lowercase())),
            Err(id) => ids.push(Literal::i64_unsuffixed(id)),
        }
    }
    (names, ids)
}

/// `senders`: the sender is one of them, by email or id.
fn sender_condition(senders: &[Sp<SenderRef>]) -> TokenStream {
    let (emails, ids) = names_and_ids(senders, |s| match s {
        SenderRef::Email(e) => Ok(e),
        SenderRef::Id(i) => Err(*i),
    });
    let mut alts = Vec::new();
    if !emails.is_empty() {
        let same = rt("same_name");
        alts.push(quote!({
            let s = m.sender_email();
            #(#same(s, #emails))||*
        }));
    }
    if !ids.is_empty() {
        alts.push(quote!(matches!(m.sender_id, #(#ids)|*)));
    }
    quote!((#(#alts)||*))
}

/// `channels`: the message is in one of them, by name or id.
fn channel_condition(channels: &[Sp<ChannelRef>]) -> TokenStream {
    let (names, ids) = names_and_ids(channels, |c| match c {
        ChannelRef::Name(n) => Ok(n),
        ChannelRef::Id(i) => Err(*i),
    });
    let mut alts = Vec::new();
    if !names.is_empty() {
        let same = rt("same_name");
        alts.push(quote!(
            m.channel_name().is_some_and(|n| #(#same(n, #names))||*)
        ));
    }
    if !ids.is_empty() {
        alts.push(quote!(
            matches!(m.channel_id(), ::core::option::Option::Some(#(#ids)|*))
        ));
    }
    quote!((#(#alts)||*))
}

/// `topics`: the message is in a channel, under a topic named or matched.
fn topic_condition(topics: &[Sp<TextMatch>], regexes: &mut Regexes) -> TokenStream {
    let exact: Vec<Literal> = topics
        .iter()
        .filter_map(|t| match &t.value {
            TextMatch::Exact(s) => Some(lit(&s.to_lowercase())),
            _ => None,
        })
        .collect();
    let mut alts = Vec::new();
    if !exact.is_empty() {
        let same = rt("same_name");
        alts.push(quote!(m.is_channel() && {
            let t = m.topic();
            #(#same(t, #exact))||*
        }));
    }
    for t in topics {
        if let TextMatch::Regex(r) = &t.value {
            let re = regexes.add(r);
            alts.push(quote!(m.is_channel() && #re.is_match(m.topic())));
        }
    }
    quote!((#(#alts)||*))
}
