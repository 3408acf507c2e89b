//! The small pieces every generator here builds with: paths into the runtime, string
//! literals, and the regexes a pipeline compiles once.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

pub(super) fn rt(name: &str) -> TokenStream {
    let ident = format_ident!("{}", name);
    quote!(::zlc_runtime::codegen::#ident)
}

pub(super) fn lit(s: &str) -> Literal {
    Literal::string(s)
}

pub(super) fn opt_str(s: Option<&str>) -> TokenStream {
    match s {
        Some(s) => {
            let l = lit(s);
            quote!(::core::option::Option::Some(#l))
        }
        None => quote!(::core::option::Option::None),
    }
}

/// Collects the regexes of a pipeline (or of one listener), numbered in order of
/// appearance; each becomes one `static RE_n` compiled once.
#[derive(Debug, Default)]
pub struct Regexes {
    patterns: Vec<String>,
}

impl Regexes {
    /// The `static` items of the patterns collected.
    pub fn statics(&self) -> TokenStream {
        let statics = self.patterns.iter().enumerate().map(|(n, pat)| {
            let name = format_ident!("RE_{}", n);
            let pat = lit(pat);
            let (lazy, regex, compile) = (rt("LazyLock"), rt("Regex"), rt("regex"));
            quote! {
                static #name: #lazy<#regex> = #lazy::new(|| #compile(#pat));
            }
        });
        quote!(#(#statics)*)
    }

    pub(super) fn add(&mut self, pattern: &str) -> proc_macro2::Ident {
        let n = match self.patterns.iter().position(|p| p == pattern) {
            Some(n) => n,
            None => {
                self.patterns.push(pattern.to_owned());
                self.patterns.len() - 1
            }
        };
        format_ident!("RE_{}", n)
    }
}
