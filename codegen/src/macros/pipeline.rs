//! `pipeline!`: the listeners (and commands) of a Rust crate put together, with their
//! dispatch function, as one pipeline.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use super::{PipelineArgs, realm_items};

pub(super) fn pipeline_items(args: &PipelineArgs) -> TokenStream {
    let rt = quote!(::zlc_runtime::codegen);
    let modules: Vec<TokenStream> = args
        .listeners
        .iter()
        .map(|path| {
            let mut p = path.clone();
            if let Some(last) = p.segments.last_mut() {
                last.ident =
                    format_ident!("__zlc_listener_{}", last.ident, span = last.ident.span());
            }
            quote!(#p)
        })
        .collect();
    let name = match &args.name {
        Some(n) => quote!(#n),
        None => quote!(::core::env!("CARGO_PKG_NAME")),
    };
    let description = match &args.description {
        Some(d) => quote!(#d),
        None => quote!(::core::env!("CARGO_PKG_DESCRIPTION")),
    };
    let store = match &args.store {
        Some(s) => quote!(::core::option::Option::Some(#s)),
        None => quote!(::core::option::Option::None),
    };
    let (realms, realm_checks) = realm_items(args, &modules);
    let version = Literal::string(env!("CARGO_PKG_VERSION"));
    let indices: Vec<Literal> = (0..modules.len()).map(Literal::usize_unsuffixed).collect();
    let listeners: Vec<TokenStream> = modules
        .iter()
        .zip(&indices)
        .map(|(m, i)| quote!(#rt::ListenerDesc { command: #rt::command_index(__ZLC_ALL, #i), commands: __ZLC_COMMANDS, ..#m::DESC }))
        .collect();
    let commands = commands_consts(&modules);
    let dispatch = dispatch_fn(&modules, &indices);
    quote! {
        /// The pipeline these listeners make: `PIPELINE.main()` is a binary's `main`;
        /// `zlc_runtime::harness::Harness::of(&PIPELINE)` runs it in tests.
        pub static PIPELINE: #rt::Pipeline = #rt::Pipeline {
            desc: &__ZLC_PIPELINE,
            dispatch: __zlc_dispatch,
            handlers: if __ZLC_HAS { &[#(#modules::HANDLERS,)* &[]] } else { &[#(#modules::HANDLERS),*] },
        };

        #commands

        static __ZLC_PIPELINE: #rt::PipelineDesc = #rt::PipelineDesc {
            name: #name,
            description: #description,
            zlc_version: #version,
            realms: &[#(#realms),*],
            store: #rt::StoreDesc { url: #store, url_env: ::core::option::Option::None, password_env: ::core::option::Option::None, password_file: ::core::option::Option::None },
            event_log: #rt::EventLogMode::Failures,
            listeners: if __ZLC_HAS {
                &[#(#listeners,)* #rt::help_listener(__ZLC_COMMANDS)]
            } else {
                &[#(#listeners),*]
            },
            commands: __ZLC_COMMANDS,
            schedules: &__ZLC_SCHEDULES,
            conversation_timeout: 3600,
        };

        #(#realm_checks)*

        #dispatch
    }
}

/// The commands among a `pipeline!`'s functions (`#[command]`), put together at compile
/// time: `__ZLC_ALL` (one entry per function), `__ZLC_SPECS`, `__ZLC_COMMANDS`,
/// `__ZLC_HAS` (zlc's `help` listener comes last when it is `true`).
fn commands_consts(modules: &[TokenStream]) -> TokenStream {
    let rt = quote!(::zlc_runtime::codegen);
    quote! {
            // The commands among the functions (`#[command]`), put together at compile time.
            const __ZLC_ALL: &[::core::option::Option<#rt::CommandSpec>] = &[#(#modules::COMMAND),*];
            const __ZLC_N: usize = #rt::count_some(__ZLC_ALL);
            const __ZLC_SPECS: [#rt::CommandSpec; __ZLC_N] = #rt::collect_commands::<__ZLC_N>(__ZLC_ALL);
            const __ZLC_COMMANDS: #rt::Commands = #rt::commands(&__ZLC_SPECS, ::core::option::Option::None);
            const __ZLC_HAS: bool = __ZLC_N > 0;
            // And the schedules (`#[schedule]`), each naming its function's listener.
            const __ZLC_SCHEDULES_ALL: &[::core::option::Option<#rt::ScheduleDesc>] = &[#(#modules::SCHEDULE),*];
            const __ZLC_SCHEDULES_N: usize = #rt::count_some(__ZLC_SCHEDULES_ALL);
            const __ZLC_SCHEDULES: [#rt::ScheduleDesc; __ZLC_SCHEDULES_N] =
                #rt::collect_schedules::<__ZLC_SCHEDULES_N>(__ZLC_SCHEDULES_ALL);
            const _: () = ::core::assert!(
                #rt::names_distinct(&__ZLC_SPECS),
                "two commands of this pipeline have one name: rename one of the functions"
            );
    }
}

/// The dispatch function of a `pipeline!`: each function's filters, then zlc's `help`.
fn dispatch_fn(modules: &[TokenStream], indices: &[Literal]) -> TokenStream {
    let rt = quote!(::zlc_runtime::codegen);
    let help = Literal::usize_unsuffixed(modules.len());
    quote! {
        /// Runs the listeners interested in `ev`, with their filters inline.
        fn __zlc_dispatch(cx: &mut #rt::Cx<'_>, ev: &#rt::RawEvent<'_>) {
            let view = if ev.kind == "message" {
                if !(false #(|| #modules::MESSAGES)*) {
                    return;
                }
                match cx.message(ev) {
                    ::core::option::Option::Some(v) => ::core::option::Option::Some(v),
                    ::core::option::Option::None => return,
                }
            } else {
                cx.at_event_time(ev);
                ::core::option::Option::None
            };
            #(#modules::dispatch(cx, ev, view.as_ref(), #indices);)*
            // zlc's `help`: messages for the bot that run no command.
            if __ZLC_HAS && let ::core::option::Option::Some(e) = view.as_ref() && cx.enabled(#help) {
                cx.seen(#help);
                if #rt::answers_command(&cx.command(e)) {
                    cx.matched(#help, ev, ::core::option::Option::Some(e));
                }
            }
        }
    }
}
