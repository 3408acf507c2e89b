//! `#[command]` on a Rust function: a listener that is a command, whose arguments are
//! the function's parameters, read from the message as their types; and
//! `#[derive(Choice)]`, an enum as one of its variants.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, ItemFn, Pat, PathArguments, Type};

use crate::expand::{Regexes, expand_listener};
use crate::model::{AllowedRule, Listener, Policy};

/// One parameter of a command function: its name and type, and how it is written.
struct Param<'a> {
    name: String,
    ty: &'a Type,
    flag: bool,
}

pub fn command(args: TokenStream, item: TokenStream) -> TokenStream {
    let usage = "#[command] goes on a function: `async fn deploy(environment: Environment, force: bool, cx: &Context<'_>) -> Result<(), E>`";
    let func = match super::function_of(&item, usage) {
        Ok(f) => f,
        Err(e) => return e,
    };
    let parsed = crate::attr::parse_command(&func.sig.ident, args);
    let mut errors = parsed.errors;
    let params = params(&func).unwrap_or_else(|mut e| {
        errors.append(&mut e);
        Vec::new()
    });
    super::with_module(&func, &errors, || {
        let l = parsed.listener.as_ref()?;
        Some(command_module(l, &func, &params))
    })
}

/// The parameters before the context: the command's arguments, in order (required
/// ones, optional ones, the rest of the message last; flags anywhere).
fn params(func: &ItemFn) -> Result<Vec<Param<'_>>, Vec<syn::Error>> {
    let inputs: Vec<&FnArg> = func.sig.inputs.iter().collect();
    let Some((last, args)) = inputs.split_last() else {
        return Err(vec![syn::Error::new(
            func.sig.span(),
            "a command takes its arguments, then the context: `fn deploy(environment: Environment, cx: &Context<'_>)`",
        )]);
    };
    let mut errors = Vec::new();
    if !matches!(last, FnArg::Typed(t) if matches!(*t.ty, Type::Reference(_))) {
        errors.push(syn::Error::new(
            last.span(),
            "the last parameter is the context: `cx: &Context<'_>`",
        ));
    }
    let mut out: Vec<Param<'_>> = Vec::new();
    let (mut optional_seen, mut rest_seen) = (false, false);
    for a in args {
        let FnArg::Typed(t) = a else {
            errors.push(syn::Error::new(a.span(), "a command is a free function"));
            continue;
        };
        let Pat::Ident(id) = &*t.pat else {
            errors.push(syn::Error::new(
                t.pat.span(),
                "an argument is named by a plain name (`environment: Environment`)",
            ));
            continue;
        };
        let ty = &*t.ty;
        let (optional, inner) = match option_inner(ty) {
            Some(inner) => (true, inner),
            None => (false, ty),
        };
        let flag = last_ident(inner).as_deref() == Some("bool");
        let rest = last_ident(inner).as_deref() == Some("Rest");
        if flag && optional {
            errors.push(syn::Error::new(
                ty.span(),
                "a flag is `bool` (given or not), never `Option<bool>`",
            ));
        }
        if !flag && rest_seen {
            errors.push(syn::Error::new(
                id.ident.span(),
                "no argument may follow the rest of the message (`Rest` is last)",
            ));
        }
        if !flag && !optional && optional_seen {
            errors.push(syn::Error::new(
                id.ident.span(),
                "a required argument cannot follow an optional one",
            ));
        }
        optional_seen |= optional && !flag;
        rest_seen |= rest;
        out.push(Param {
            name: id.ident.to_string(),
            ty,
            flag,
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// `T` in `Option<T>`.
fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let seg = p.path.segments.last()?;
    if seg.ident != "Option" {
        return None;
    }
    let PathArguments::AngleBracketed(a) = &seg.arguments else {
        return None;
    };
    match a.args.first()? {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    }
}

fn last_ident(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

fn command_module(l: &Listener, func: &ItemFn, params: &[Param<'_>]) -> TokenStream {
    let rt = quote!(::zlc_runtime::codegen);
    let mut regexes = Regexes::default();
    let code = expand_listener(l, &quote!(index), None, &Policy::builtin(), &mut regexes);
    let (desc, handlers, statics) = (&code.desc, &code.handlers, regexes.statics());
    let check = code
        .checks
        .iter()
        .find(|(k, _)| k == "message")
        .map(|(_, c)| c);
    let name = Literal::string(&func.sig.ident.to_string());
    let args = params.iter().filter(|p| !p.flag).map(|p| {
        let (n, ty) = (Literal::string(&p.name), p.ty);
        quote_spanned!(ty.span()=> #rt::ArgSpec {
            name: #n,
            kind: #rt::kind_of(<#ty as #rt::CommandArg>::SHAPE),
            required: !<#ty as #rt::CommandArg>::OPTIONAL,
        })
    });
    let flags = params
        .iter()
        .filter(|p| p.flag)
        .map(|p| Literal::string(&p.name));
    let allowed = l.allowed.iter().map(|a| match &a.value {
        AllowedRule::Role(_, n) => {
            let n = Literal::u16_unsuffixed(*n);
            quote!(#rt::Allowed::Role(#n))
        }
        AllowedRule::Email(e) => {
            let e = Literal::string(e);
            quote!(#rt::Allowed::Email(#e))
        }
        AllowedRule::Group(g) => {
            let g = Literal::string(g);
            quote!(#rt::Allowed::Group(#g))
        }
        AllowedRule::Id(id) => {
            let id = Literal::i64_unsuffixed(*id);
            quote!(#rt::Allowed::Id(#id))
        }
    });
    let call = thunk(func, params);
    quote! {
        // The parameters' types, as the function names them.
        use super::*;
        #statics
        pub const DESC: #rt::ListenerDesc = #desc;
        pub const HANDLERS: &[#rt::HandlerFn] = #handlers;
        pub const MESSAGES: bool = true;
        pub const SCHEDULE: ::core::option::Option<#rt::ScheduleDesc> = ::core::option::Option::None;
        pub const COMMAND: ::core::option::Option<#rt::CommandSpec> = ::core::option::Option::Some(#rt::CommandSpec {
            name: #name,
            summary: DESC.description,
            args: &[#(#args),*],
            flags: &[#(#flags),*],
            allowed: &[#(#allowed),*],
        });
        /// Runs this command's filters on a message that runs it, as listener `index`.
        pub fn dispatch(
            cx: &mut #rt::Cx<'_>,
            ev: &#rt::RawEvent<'_>,
            view: ::core::option::Option<&#rt::MessageViewEvent<'_>>,
            index: usize,
        ) {
            if ev.kind != "message" {
                return;
            }
            let ::core::option::Option::Some(e) = view else { return; };
            let m = &e.message;
            let ::core::option::Option::Some(k) = cx.command_of(index) else { return; };
            if !#rt::runs_command(&cx.command(e), k) {
                return;
            }
            #check
        }
        #call
    }
}

/// The thunk: the message's arguments read as the parameters' types, then the call.
fn thunk(func: &ItemFn, params: &[Param<'_>]) -> TokenStream {
    let rt = quote!(::zlc_runtime::codegen);
    let name = &func.sig.ident;
    let await_ = func.sig.asyncness.map(|_| quote!(.await));
    let vars: Vec<_> = params
        .iter()
        .map(|p| format_ident!("__arg_{}", p.name))
        .collect();
    let reads = params.iter().zip(&vars).map(|(p, v)| {
        let (n, ty) = (Literal::string(&p.name), p.ty);
        quote! {
            let ::core::option::Option::Some(#v) = <#ty as #rt::CommandArg>::read_arg(inv.get(#n)) else {
                return ::core::result::Result::Err(#rt::HandlerError::from_error(
                    ::std::format!("argument `{}` of `{}` is not what the command reads", #n, ::core::stringify!(#name)).into(),
                ));
            };
        }
    });
    quote! {
        /// Reads the command's arguments and calls the function.
        pub fn call<'a>(cx: &'a #rt::Context<'a>) -> #rt::HandlerFuture<'a> {
            ::std::boxed::Box::pin(async move {
                let ::core::option::Option::Some(inv) = cx.invocation() else {
                    return ::core::result::Result::Err(#rt::HandlerError::from_error(
                        "the message runs no command".into(),
                    ));
                };
                #(#reads)*
                #rt::HandlerResult::into_outcome(super::#name(#(#vars,)* cx) #await_)
            })
        }
    }
}

/// `#[derive(Choice)]`: each unit variant is a word (lowercase, `-` between words).
pub fn choice(item: TokenStream) -> TokenStream {
    let rt = quote!(::zlc_runtime::codegen);
    let e: syn::ItemEnum = match syn::parse2(item) {
        Ok(e) => e,
        Err(_) => {
            return syn::Error::new(Span::call_site(), "`Choice` is for an enum of unit variants (`enum Environment { Staging, Production }`)")
                .to_compile_error();
        }
    };
    let mut errors = Vec::new();
    let mut words = Vec::new();
    for v in &e.variants {
        if !matches!(v.fields, syn::Fields::Unit) {
            errors.push(
                syn::Error::new(v.span(), "a choice is a unit variant (no fields)")
                    .to_compile_error(),
            );
        }
        words.push((word(&v.ident.to_string()), &v.ident));
    }
    let ident = &e.ident;
    let lits: Vec<Literal> = words.iter().map(|(w, _)| Literal::string(w)).collect();
    let idents = words.iter().map(|(_, i)| i);
    quote! {
        #(#errors)*
        impl #rt::CommandArg for #ident {
            const SHAPE: #rt::ArgShape = #rt::ArgShape::Arg(#rt::ArgKind::Choice(&[#(#lits),*]));
            fn read_arg(v: ::core::option::Option<&::zlc_runtime::command::ArgValue>) -> ::core::option::Option<Self> {
                match v {
                    ::core::option::Option::Some(::zlc_runtime::command::ArgValue::Text(t)) => match t.as_str() {
                        #(#lits => ::core::option::Option::Some(#ident::#idents),)*
                        _ => ::core::option::Option::None,
                    },
                    _ => ::core::option::Option::None,
                }
            }
        }
    }
}

/// `DryRun` → `dry-run`.
fn word(ident: &str) -> String {
    let mut out = String::new();
    for (i, c) in ident.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('-');
        }
        out.extend(c.to_lowercase());
    }
    out
}
