//! The expansions of `#[listener]`, `pipeline!` and `main!` (the `zlc-macros` crate
//! is a shim over these functions).
//!
//! `#[listener(...)] async fn on_deploy(msg: &Message<'_>, cx: &Context<'_>) -> Result<..>`
//! keeps the function as written and adds a hidden module `__zlc_listener_on_deploy`
//! beside it, holding what the pipeline path generates for one listener: its
//! `ListenerDesc` (`DESC`), its filters as a function (`dispatch`), its regexes, and
//! `call`, the thunk that parses an event into the function's argument type and calls
//! it (listed in `HANDLERS`). `pipeline!(on_deploy, on_join)` puts such listeners
//! together into the same `PipelineDesc`, static `dispatch` function and handler table
//! a pipeline file compiles to;
//! `main!(...)` adds the binary's `main`.
//!
//! Mistakes are collected, each on its token: those of the attribute (read as a
//! pipeline file's listener would be, see [`crate::attr`]) and those of the function's
//! signature (an argument type that does not fit its events, a wrong return type).
//! After an error the function is still emitted, with a stand-in module, so that one
//! mistake does not become ten.

mod command;
mod pipeline;
mod schedule;
pub use command::{choice, command};
use pipeline::pipeline_items;
pub use schedule::schedule;

use proc_macro2::{Literal, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{FnArg, Ident, ItemFn, Lit, Path, ReturnType, Token, Type};

use crate::expand::{Regexes, expand_listener};
use crate::model::{Listener, Policy};

/// What the function's event argument is, and how the thunk passes the event.
enum Arg {
    /// `&Event<'_>`: any event.
    Event,
    /// `&Message<'_>`: a message event's message.
    Message,
    /// `&P` for the variants listed (`&MessageEvent<'_>` for messages).
    Payload(Vec<String>),
}

/// `#[listener(args)] fn ...`.
pub fn listener(args: TokenStream, item: TokenStream) -> TokenStream {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(_) => {
            let e = syn::Error::new(
                Span::call_site(),
                "#[listener] goes on a function: `async fn on_event(msg: &Message<'_>, cx: &Context<'_>) -> Result<(), E>`",
            );
            let err = e.to_compile_error();
            return quote!(#err #item);
        }
    };
    let name = &func.sig.ident;
    let parsed = crate::attr::parse(name, args);
    let mut errors = parsed.errors;
    let arg = match &parsed.listener {
        Some(l) => match signature(&func, l) {
            Ok(arg) => Some(arg),
            Err(mut e) => {
                errors.append(&mut e);
                None
            }
        },
        None => {
            // The events are unknown: still check what does not depend on them.
            if let Err(mut e) = signature_shape(&func) {
                errors.append(&mut e);
            }
            None
        }
    };
    let warnings = parsed.warnings.iter().map(|(msg, span)| {
        // Stable Rust has no warning API for proc macros: a deprecated item used at
        // the token is the usual way to show one.
        let note = format!("zlc: {msg}");
        quote_spanned! {*span=>
            const _: () = {
                #[deprecated(note = #note)]
                #[allow(non_upper_case_globals)]
                const zlc_warning: () = ();
                zlc_warning
            };
        }
    });
    let module = format_ident!("__zlc_listener_{}", name);
    let body = match (&parsed.listener, arg, errors.is_empty()) {
        (Some(l), Some(arg), true) => listener_module(l, &func, arg),
        _ => stand_in(name),
    };
    let errors = errors.iter().map(syn::Error::to_compile_error);
    quote! {
        #func
        #(#errors)*
        #(#warnings)*
        #[doc(hidden)]
        #[allow(non_snake_case, dead_code, unused_imports, unused_variables, clippy::all)]
        pub mod #module {
            #body
        }
    }
}

/// The function an attribute is on, or the error saying how it is written (`usage`).
pub(crate) fn function_of(item: &TokenStream, usage: &str) -> Result<ItemFn, TokenStream> {
    syn::parse2(item.clone()).map_err(|_| {
        let err = syn::Error::new(Span::call_site(), usage).to_compile_error();
        quote!(#err #item)
    })
}

/// The function as written, its errors, and its hidden module: `body`, or an inert one
/// when there are errors.
pub(crate) fn with_module(
    func: &ItemFn,
    errors: &[syn::Error],
    body: impl FnOnce() -> Option<TokenStream>,
) -> TokenStream {
    let name = &func.sig.ident;
    let module = format_ident!("__zlc_listener_{}", name);
    let body = errors
        .is_empty()
        .then(body)
        .flatten()
        .unwrap_or_else(|| stand_in(name));
    let errors = errors.iter().map(syn::Error::to_compile_error);
    quote! {
        #func
        #(#errors)*
        #[doc(hidden)]
        #[allow(non_snake_case, dead_code, unused_imports, unused_variables, clippy::all)]
        pub mod #module {
            #body
        }
    }
}

/// The hidden module of a listener that has errors: valid, inert, so that `pipeline!`
/// naming it adds no errors of its own.
pub(crate) fn stand_in(name: &Ident) -> TokenStream {
    let n = Literal::string(&name.to_string());
    quote! {
        pub const DESC: ::zlc_runtime::codegen::ListenerDesc = ::zlc_runtime::codegen::ListenerDesc::stand_in(#n);
        pub const HANDLERS: &[::zlc_runtime::codegen::HandlerFn] = &[];
        pub const MESSAGES: bool = false;
        pub const COMMAND: ::core::option::Option<::zlc_runtime::codegen::CommandSpec> = ::core::option::Option::None;
        pub const SCHEDULE: ::core::option::Option<::zlc_runtime::codegen::ScheduleDesc> = ::core::option::Option::None;
        pub fn dispatch(
            cx: &mut ::zlc_runtime::codegen::Cx<'_>,
            ev: &::zlc_runtime::codegen::RawEvent<'_>,
            view: ::core::option::Option<&::zlc_runtime::codegen::MessageViewEvent<'_>>,
            index: usize,
        ) {
        }
    }
}

fn listener_module(l: &Listener, func: &ItemFn, arg: Arg) -> TokenStream {
    let mut regexes = Regexes::default();
    let code = expand_listener(l, &quote!(index), None, &Policy::builtin(), &mut regexes);
    let desc = &code.desc;
    let statics = regexes.statics();
    let messages = l.events.iter().any(|e| e.value.kind == "message");
    let arms = code.checks.iter().map(|(kind, check)| {
        let kind_lit = Literal::string(kind);
        let prelude = if kind == "message" {
            quote! {
                let ::core::option::Option::Some(e) = view else { return; };
                let m = &e.message;
            }
        } else {
            quote!()
        };
        quote! {
            #kind_lit => {
                #prelude
                #check
            }
        }
    });
    let call = thunk(func, arg);
    let handlers = &code.handlers;
    quote! {
        #statics
        pub const DESC: ::zlc_runtime::codegen::ListenerDesc = #desc;
        pub const HANDLERS: &[::zlc_runtime::codegen::HandlerFn] = #handlers;
        pub const MESSAGES: bool = #messages;
        pub const COMMAND: ::core::option::Option<::zlc_runtime::codegen::CommandSpec> = ::core::option::Option::None;
        pub const SCHEDULE: ::core::option::Option<::zlc_runtime::codegen::ScheduleDesc> = ::core::option::Option::None;
        /// Runs this listener's filters on `ev`, as listener `index` of its pipeline.
        pub fn dispatch(
            cx: &mut ::zlc_runtime::codegen::Cx<'_>,
            ev: &::zlc_runtime::codegen::RawEvent<'_>,
            view: ::core::option::Option<&::zlc_runtime::codegen::MessageViewEvent<'_>>,
            index: usize,
        ) {
            match ev.kind {
                #(#arms)*
                _ => {}
            }
        }
        #call
    }
}

/// The thunk: parse the event, take the variant the function wants, call it.
fn thunk(func: &ItemFn, arg: Arg) -> TokenStream {
    let name = &func.sig.ident;
    let name_lit = Literal::string(&name.to_string());
    let await_ = func.sig.asyncness.map(|_| quote!(.await));
    let rt = quote!(::zlc_runtime::codegen);
    let invoke = |value: TokenStream| quote!(#rt::HandlerResult::into_outcome(super::#name(#value, cx) #await_));
    let body = match arg {
        Arg::Event => invoke(quote!(&ev)),
        Arg::Message => {
            let call = invoke(quote!(&m.message));
            quote! {
                match ev {
                    #rt::Event::Message(m) => #call,
                    _ => ::core::result::Result::Err(#rt::HandlerError::mismatch(#name_lit, raw.kind)),
                }
            }
        }
        Arg::Payload(variants) => {
            let variants = variants.iter().map(|v| format_ident!("{}", v));
            let call = invoke(quote!(&p));
            quote! {
                match ev {
                    #(#rt::Event::#variants(p))|* => #call,
                    _ => ::core::result::Result::Err(#rt::HandlerError::mismatch(#name_lit, raw.kind)),
                }
            }
        }
    };
    quote! {
        /// Parses the event for `#name` and calls it.
        pub fn call<'a>(cx: &'a #rt::Context<'a>) -> #rt::HandlerFuture<'a> {
            ::std::boxed::Box::pin(async move {
                let (raw, ev) = #rt::event_of(cx)?;
                #body
            })
        }
    }
}

/// Checks the function's signature against the listener's events: `(event, context)`
/// arguments, the event's type fitting every event the listener receives, a `Result`.
fn signature(func: &ItemFn, l: &Listener) -> Result<Arg, Vec<syn::Error>> {
    let (event_ty, _) = signature_shape(func)?;
    let name = &func.sig.ident;
    // Every (type, op) the listener receives, with its variant and payload type.
    let mut variants: Vec<(&str, &str)> = Vec::new();
    for e in &l.events {
        for (kind, op, variant, payload) in crate::events::VARIANTS {
            let op_fits = e.value.op.is_none() || e.value.op.as_deref() == *op;
            if *kind == e.value.kind && op_fits && !variants.iter().any(|(v, _)| v == variant) {
                variants.push((variant, payload));
            }
        }
    }
    let payload = |p: &str| p.split('<').next().unwrap_or(p).to_owned();
    let payloads: Vec<String> = {
        let mut p: Vec<String> = variants.iter().map(|(_, t)| payload(t)).collect();
        p.dedup();
        p
    };
    let only_messages = l.events.iter().all(|e| e.value.kind == "message");
    let written = last_segment(event_ty).unwrap_or_default();
    let fits = match written.as_str() {
        "Event" => Some(Arg::Event),
        "Message" if only_messages => Some(Arg::Message),
        w if payloads.len() == 1 && payloads[0] == w => Some(Arg::Payload(
            variants.iter().map(|(v, _)| (*v).to_owned()).collect(),
        )),
        _ => None,
    };
    fits.ok_or_else(|| {
        let events: Vec<String> = l
            .events
            .iter()
            .map(|e| match &e.value.op {
                Some(op) => format!("{}:{op}", e.value.kind),
                None => e.value.kind.clone(),
            })
            .collect();
        let wanted = if only_messages {
            "`&Message<'_>` (or `&MessageEvent<'_>`, with the flags)".to_owned()
        } else if payloads.len() == 1 {
            format!("`&{}`", with_lifetime(&payloads[0]))
        } else {
            "`&Event<'_>` (their payloads differ)".to_owned()
        };
        vec![syn::Error::new(
            event_ty.span(),
            format!(
                "`{name}` receives {} events, so its first argument is {wanted}, not `&{written}`",
                events.join(", ")
            ),
        )]
    })
}

fn with_lifetime(payload: &str) -> String {
    match payload {
        "MessageEvent" => "MessageEvent<'_>".to_owned(),
        p => p.to_owned(),
    }
}

/// The parts of the signature that do not depend on the events: a free function of
/// `(&Event-ish, &Context<'_>)` returning a `Result`. Returns the event argument's type
/// (behind its `&`).
fn signature_shape(func: &ItemFn) -> Result<(&Type, ()), Vec<syn::Error>> {
    let sig = &func.sig;
    let mut errors = Vec::new();
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new(
            sig.generics.span(),
            "a listener function is not generic",
        ));
    }
    let args: Vec<&FnArg> = sig.inputs.iter().collect();
    let mut event_ty = None;
    match args.as_slice() {
        [FnArg::Typed(ev), FnArg::Typed(cx)] => {
            match &*ev.ty {
                Type::Reference(r) => event_ty = Some(&*r.elem),
                other => errors.push(syn::Error::new(
                    other.span(),
                    "a listener takes its event by reference, e.g. `msg: &Message<'_>`",
                )),
            }
            let cx_ok = matches!(&*cx.ty, Type::Reference(r) if last_segment(&r.elem).as_deref() == Some("Context"));
            if !cx_ok {
                errors.push(syn::Error::new(
                    cx.ty.span(),
                    "a listener's second argument is the context: `cx: &Context<'_>`",
                ));
            }
        }
        _ => errors.push(syn::Error::new(
            sig.inputs.span().join(sig.paren_token.span.join()).unwrap_or(sig.ident.span()),
            "a listener takes two arguments: its event and the context, e.g. `(msg: &Message<'_>, cx: &Context<'_>)`",
        )),
    }
    match &sig.output {
        ReturnType::Type(_, ty) if last_segment(ty).as_deref() == Some("Result") => {}
        ReturnType::Type(_, ty) => errors.push(syn::Error::new(
            ty.span(),
            "a listener returns `Result<(), E>` (E: any error type), so that a failure can be retried and reported",
        )),
        ReturnType::Default => errors.push(syn::Error::new(
            sig.ident.span(),
            "a listener returns `Result<(), E>` (E: any error type), so that a failure can be retried and reported",
        )),
    }
    match (event_ty, errors.is_empty()) {
        (Some(t), true) => Ok((t, ())),
        _ => Err(errors),
    }
}

fn last_segment(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

/// `pipeline!(...)` and `main!(...)`: options, then the listeners' paths.
struct PipelineArgs {
    name: Option<syn::LitStr>,
    description: Option<syn::LitStr>,
    realms: Vec<(u32, Span)>,
    /// A zuliprc per realm: `zuliprc = { 1 = "prod.zuliprc", 2 = "staging.zuliprc" }`.
    zuliprcs: Vec<(u32, syn::LitStr)>,
    store: Option<syn::LitStr>,
    listeners: Vec<Path>,
}

impl Parse for PipelineArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = PipelineArgs {
            name: None,
            description: None,
            realms: Vec::new(),
            zuliprcs: Vec::new(),
            store: None,
            listeners: Vec::new(),
        };
        while !input.is_empty() {
            if input.peek(Ident) && input.peek2(Token![=]) {
                let key: Ident = input.parse()?;
                input.parse::<Token![=]>()?;
                match key.to_string().as_str() {
                    "name" => args.name = Some(input.parse()?),
                    "description" => args.description = Some(input.parse()?),
                    "store" => args.store = Some(input.parse()?),
                    "realms" => {
                        let content;
                        syn::bracketed!(content in input);
                        for lit in Punctuated::<Lit, Token![,]>::parse_terminated(&content)? {
                            match &lit {
                                Lit::Int(i) => args.realms.push((i.base10_parse()?, i.span())),
                                other => {
                                    return Err(syn::Error::new(
                                        other.span(),
                                        "realm ids are integers",
                                    ));
                                }
                            }
                        }
                    }
                    "zuliprc" => args.zuliprcs = parse_zuliprcs(input)?,
                    other => {
                        return Err(syn::Error::new(
                            key.span(),
                            format!(
                                "unknown option `{other}`; options are name, description, realms, zuliprc and store, then the listeners"
                            ),
                        ));
                    }
                }
            } else {
                args.listeners.push(input.parse()?);
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        if args.listeners.is_empty() {
            return Err(syn::Error::new(
                Span::call_site(),
                "name the listener functions: `pipeline!(on_deploy, on_join)`",
            ));
        }
        Ok(args)
    }
}

/// `{ 1 = "prod.zuliprc", 2 = "staging.zuliprc" }`: each realm's zuliprc (read at run
/// time; `--config-file` still overrides it).
fn parse_zuliprcs(input: ParseStream<'_>) -> syn::Result<Vec<(u32, syn::LitStr)>> {
    let content;
    syn::braced!(content in input);
    let mut out: Vec<(u32, syn::LitStr)> = Vec::new();
    while !content.is_empty() {
        let id: syn::LitInt = content.parse()?;
        content.parse::<Token![=]>()?;
        let path: syn::LitStr = content.parse()?;
        let id_value: u32 = id.base10_parse()?;
        if out.iter().any(|(i, _)| *i == id_value) {
            return Err(syn::Error::new(
                id.span(),
                format!("realm {id_value} is given two zuliprc files"),
            ));
        }
        if path.value().trim().is_empty() {
            return Err(syn::Error::new(path.span(), "the zuliprc's path is empty"));
        }
        out.push((id_value, path));
        if content.is_empty() {
            break;
        }
        content.parse::<Token![,]>()?;
    }
    Ok(out)
}

/// `pipeline!(...)`: `pub static PIPELINE`, the same `PipelineDesc` and static
/// `dispatch` a pipeline file compiles to.
pub fn pipeline(input: TokenStream) -> TokenStream {
    match PipelineArgs::parse.parse2(input) {
        Ok(args) => pipeline_items(&args),
        Err(e) => e.to_compile_error(),
    }
}

/// `main!(...)`: `pipeline!` and the binary's `main`.
pub fn main(input: TokenStream) -> TokenStream {
    match PipelineArgs::parse.parse2(input) {
        Ok(args) => {
            let items = pipeline_items(&args);
            quote! {
                #items
                fn main() -> ::std::process::ExitCode {
                    ::zlc_runtime::codegen::run(&PIPELINE)
                }
            }
        }
        Err(e) => e.to_compile_error(),
    }
}

/// The pipeline's realms (realm 1 when none is named) as `RealmDesc`s, and a
/// compile-time check per listener that the realms it names are among them.
fn realm_items(
    args: &PipelineArgs,
    modules: &[TokenStream],
) -> (Vec<TokenStream>, Vec<TokenStream>) {
    let rt = quote!(::zlc_runtime::codegen);
    let mut realm_ids: Vec<u32> = args.realms.iter().map(|(id, _)| *id).collect();
    for (id, _) in &args.zuliprcs {
        if !realm_ids.contains(id) {
            realm_ids.push(*id);
        }
    }
    if realm_ids.is_empty() {
        realm_ids.push(1);
    }
    let realms = realm_ids.iter().map(|id| {
        let credentials = match args.zuliprcs.iter().find(|(i, _)| i == id) {
            Some((_, path)) => quote!(#rt::CredentialsDesc::Zuliprc(#path)),
            None => quote!(#rt::CredentialsDesc::Default),
        };
        let id = Literal::u32_unsuffixed(*id);
        quote!(#rt::RealmDesc { id: #id, name: ::core::option::Option::None, credentials: #credentials, all_public_streams: false, narrow: &[], push: false, token_env: ::core::option::Option::None })
    });
    let declared: Vec<Literal> = realm_ids
        .iter()
        .map(|id| Literal::u32_unsuffixed(*id))
        .collect();
    let realm_checks = args.listeners.iter().zip(modules).map(|(path, m)| {
        let msg = format!(
            "listener `{}` names a realm this pipeline does not declare (declare it with `realms = [...]`)",
            quote!(#path).to_string().replace(' ', "")
        );
        quote_spanned! {path.span()=>
            const _: () = ::core::assert!(#rt::realms_declared(&[#(#declared),*], #m::DESC.realms), #msg);
        }
    });
    (realms.collect(), realm_checks.collect())
}
