//! `#[schedule]` on a Rust function: a `[[schedule]]` whose action is the function,
//! called with the context at each tick.

use proc_macro2::{Literal, TokenStream};
use quote::quote;
use syn::ItemFn;
use syn::spanned::Spanned;

use crate::expand::{Regexes, expand_listener};
use crate::model::{Listener, Policy};

pub fn schedule(args: TokenStream, item: TokenStream) -> TokenStream {
    let usage =
        "#[schedule] goes on a function: `async fn standup(cx: &Context<'_>) -> Result<(), E>`";
    let func = match super::function_of(&item, usage) {
        Ok(f) => f,
        Err(e) => return e,
    };
    let parsed = crate::attr::parse_schedule(&func.sig.ident, args);
    let mut errors = parsed.errors;
    if func.sig.inputs.len() != 1 {
        errors.push(syn::Error::new(
            func.sig.inputs.span(),
            "a schedule's function takes the context alone: `fn standup(cx: &Context<'_>)`",
        ));
    }
    super::with_module(&func, &errors, || {
        let l = parsed.listener.as_ref()?;
        Some(schedule_module(l, &func))
    })
}

fn schedule_module(l: &Listener, func: &ItemFn) -> TokenStream {
    let rt = quote!(::zlc_runtime::codegen);
    let mut regexes = Regexes::default();
    let code = expand_listener(l, &quote!(index), None, &Policy::builtin(), &mut regexes);
    let (desc, handlers) = (&code.desc, &code.handlers);
    let Some(s) = &l.schedule else {
        return super::stand_in(&func.sig.ident);
    };
    let (key, text) = (
        Literal::string(s.written.0),
        Literal::string(&s.written.1.value),
    );
    let (tz, catch_up) = (Literal::string(&s.timezone), s.catch_up);
    let digest_of = match &s.digest_of {
        Some(d) => {
            let d = Literal::string(&d.value);
            quote!(::core::option::Option::Some(#d))
        }
        None => quote!(::core::option::Option::None),
    };
    let name = &func.sig.ident;
    let await_ = func.sig.asyncness.map(|_| quote!(.await));
    quote! {
        pub const DESC: #rt::ListenerDesc = #desc;
        pub const HANDLERS: &[#rt::HandlerFn] = #handlers;
        pub const MESSAGES: bool = false;
        pub const COMMAND: ::core::option::Option<#rt::CommandSpec> = ::core::option::Option::None;
        pub const SCHEDULE: ::core::option::Option<#rt::ScheduleDesc> = ::core::option::Option::Some(#rt::ScheduleDesc {
            listener: 0,
            when: (#key, #text),
            timezone: #tz,
            catch_up: #catch_up,
            digest_of: #digest_of,
        });
        /// A schedule takes no events: its ticks come from the clock.
        pub fn dispatch(
            cx: &mut #rt::Cx<'_>,
            ev: &#rt::RawEvent<'_>,
            view: ::core::option::Option<&#rt::MessageViewEvent<'_>>,
            index: usize,
        ) {
        }
        /// Calls the function at a tick.
        pub fn call<'a>(cx: &'a #rt::Context<'a>) -> #rt::HandlerFuture<'a> {
            ::std::boxed::Box::pin(async move {
                #rt::HandlerResult::into_outcome(super::#name(cx) #await_)
            })
        }
    }
}
