//! The constant descriptions a generated crate hands the runtime beside its code: each
//! listener's policy, and the pipeline's commands (`const COMMANDS`).

use proc_macro2::{Literal, TokenStream};
use quote::quote;

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
    let prefix = opt_str(p.command_prefix.as_ref().map(|s| s.value.as_str()));
    quote! {
        /// The pipeline's commands: what `@bot ...` messages are read against.
        const COMMANDS: #rt::Commands = #rt::Commands { specs: &[#(#specs),*], prefix: #prefix, by_role: #by_role };
    }
}
