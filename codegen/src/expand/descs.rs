//! The constant descriptions a generated crate hands the runtime beside its code: each
//! listener's policy and conversation step, templates, the pipeline's schedules and its
//! commands (`const COMMANDS`).

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use super::tokens::{lit, opt_str};
use crate::model::*;

/// A listener's policy (its own, over the defaults) as a `PolicyDesc`.
pub(super) fn policy_desc(pol: &Policy) -> TokenStream {
    let n64 = |v: Option<u64>| Literal::u64_unsuffixed(v.unwrap_or(0));
    let n32 = |v: Option<u32>| Literal::u32_unsuffixed(v.unwrap_or(0));
    let (timeout, backoff, backoff_max, cooldown) = (
        n64(pol.timeout_ms),
        n64(pol.backoff_ms),
        n64(pol.backoff_max_ms),
        n64(pol.breaker_cooldown_ms),
    );
    let (retries, threshold, concurrency, max_in_flight) = (
        n32(pol.retries),
        n32(pol.breaker_threshold),
        n32(pol.concurrency),
        n32(pol.max_in_flight),
    );
    let ordered = pol.ordered.unwrap_or(true);
    let limit = |r: Option<RateLimit>| {
        let r = r.unwrap_or(RateLimit::OFF);
        let (max, per) = (
            Literal::u32_unsuffixed(r.max),
            Literal::u64_unsuffixed(r.per_ms),
        );
        quote!(::zlc_runtime::codegen::RateLimitDesc { max: #max, per_ms: #per })
    };
    let (per_conversation, per_sender) = (
        limit(pol.limit_per_conversation),
        limit(pol.limit_per_sender),
    );
    quote! {
        ::zlc_runtime::codegen::PolicyDesc {
            timeout_ms: #timeout,
            retries: #retries,
            backoff_ms: #backoff,
            backoff_max_ms: #backoff_max,
            breaker_threshold: #threshold,
            breaker_cooldown_ms: #cooldown,
            concurrency: #concurrency,
            max_in_flight: #max_in_flight,
            ordered: #ordered,
            limit_per_conversation: #per_conversation,
            limit_per_sender: #per_sender,
        }
    }
}

/// `const COMMANDS`: the commands of the pipeline's listeners, in their order, and its
/// prefix (empty for a pipeline without commands).
pub(super) fn commands_const(p: &Pipeline) -> TokenStream {
    let rt = quote!(::zlc_runtime::codegen);
    let specs = p.listeners.iter().filter_map(|l| {
        let c = &l.command.as_ref()?.value;
        let name = lit(&c.name);
        let summary = lit(&l.description);
        let args = c.args.iter().map(|a| {
            let n = lit(&a.name);
            let required = a.required;
            let kind = match &a.kind {
                ArgKind::Word => quote!(#rt::ArgKind::Word),
                ArgKind::Int => quote!(#rt::ArgKind::Int),
                ArgKind::Rest => quote!(#rt::ArgKind::Rest),
                ArgKind::Choice(words) => {
                    let words = words.iter().map(|w| lit(w));
                    quote!(#rt::ArgKind::Choice(&[#(#words),*]))
                }
            };
            quote!(#rt::ArgSpec { name: #n, kind: #kind, required: #required })
        });
        let flags = c.flags.iter().map(|f| lit(f));
        let allowed = l.allowed.iter().map(|a| match &a.value {
            AllowedRule::Role(_, n) => {
                let n = Literal::u16_unsuffixed(*n);
                quote!(#rt::Allowed::Role(#n))
            }
            AllowedRule::Email(e) => {
                let e = lit(e);
                quote!(#rt::Allowed::Email(#e))
            }
            AllowedRule::Group(g) => {
                let g = lit(g);
                quote!(#rt::Allowed::Group(#g))
            }
            AllowedRule::Id(id) => {
                let id = Literal::i64_unsuffixed(*id);
                quote!(#rt::Allowed::Id(#id))
            }
        });
        Some(quote!(#rt::CommandSpec {
            name: #name,
            summary: #summary,
            args: &[#(#args),*],
            flags: &[#(#flags),*],
            allowed: &[#(#allowed),*],
        }))
    });
    let by_role = p.listeners.iter().any(|l| {
        l.allowed
            .iter()
            .any(|a| matches!(a.value, AllowedRule::Role(..)))
    });
    let by_group = (p.listeners.iter()).any(|l| {
        l.allowed
            .iter()
            .any(|a| matches!(a.value, AllowedRule::Group(..)))
    });
    let prefix = opt_str(p.command_prefix.as_ref().map(|s| s.value.as_str()));
    quote! {
        /// The pipeline's commands: what `@bot ...` messages are read against.
        const COMMANDS: #rt::Commands = #rt::Commands { specs: &[#(#specs),*], prefix: #prefix, by_role: #by_role, by_group: #by_group };
    }
}

/// The pipeline's `[[schedule]]`s as `ScheduleDesc`s.
pub(super) fn schedule_descs(p: &Pipeline) -> Vec<TokenStream> {
    p.listeners.iter().enumerate().filter_map(|(i, l)| {
        let s = l.schedule.as_ref()?;
        let i = Literal::usize_unsuffixed(i);
        let (key, text) = (lit(s.written.0), lit(&s.written.1.value));
        let (tz, catch_up) = (lit(&s.timezone), s.catch_up);
        let digest_of = opt_str(s.digest_of.as_ref().map(|d| d.value.as_str()));
        Some(quote!(::zlc_runtime::codegen::ScheduleDesc {
            listener: #i, when: (#key, #text), timezone: #tz, catch_up: #catch_up, digest_of: #digest_of,
        }))
    })
    .collect()
}

/// Listener `l`'s step in a conversation, as the runtime reads it.
pub(super) fn conversation_desc(l: &Listener) -> TokenStream {
    let reads = !crate::check::conversations::fields_read(l).is_empty();
    if !l.step.is_some() && !reads {
        return quote!(::zlc_runtime::codegen::ConversationDesc::NONE);
    }
    let state = |s: &Option<Sp<String>>| opt_str(s.as_ref().map(|s| s.value.as_str()));
    let (in_state, next_state) = (state(&l.step.in_state), state(&l.step.next_state));
    let remember = l.step.remember.iter().map(|(name, t)| {
        let (name, t) = (lit(&name.value), template(t));
        quote!((#name, #t))
    });
    quote!(::zlc_runtime::codegen::ConversationDesc {
        in_state: #in_state, next_state: #next_state, remember: &[#(#remember),*], reads: #reads,
    })
}

pub(super) fn template(t: &Template) -> TokenStream {
    let segs = t.segments.iter().map(|s| match s {
        Segment::Lit(text) => {
            let text = lit(text);
            quote!(::zlc_runtime::codegen::Seg::Lit(#text))
        }
        Segment::Field(f) if f.value == crate::check::COMMAND_ANSWER => {
            quote!(::zlc_runtime::codegen::Seg::Field(
                ::zlc_runtime::codegen::Field::CommandAnswer
            ))
        }
        Segment::Field(f) if f.value == "conversation.state" => {
            quote!(::zlc_runtime::codegen::Seg::Field(
                ::zlc_runtime::codegen::Field::ConversationState
            ))
        }
        Segment::Field(f) if f.value.starts_with(crate::check::conversations::FIELD) => {
            let name = lit(&f.value[crate::check::conversations::FIELD.len()..]);
            quote!(::zlc_runtime::codegen::Seg::Field(::zlc_runtime::codegen::Field::Conversation(#name)))
        }
        Segment::Field(f) => match f.value.strip_prefix("args.") {
            Some(arg) => {
                let arg = lit(arg);
                quote!(::zlc_runtime::codegen::Seg::Field(::zlc_runtime::codegen::Field::Arg(#arg)))
            }
            None => {
                let variant = crate::events::field(&f.value).map_or("EventType", |i| i.variant);
                let v = format_ident!("{}", variant);
                quote!(::zlc_runtime::codegen::Seg::Field(::zlc_runtime::codegen::Field::#v))
            }
        },
    });
    quote!(&[#(#segs),*])
}

pub(super) fn opt_template(t: &Option<Template>) -> TokenStream {
    match t {
        Some(t) => {
            let t = template(t);
            quote!(::core::option::Option::Some(#t))
        }
        None => quote!(::core::option::Option::None),
    }
}
