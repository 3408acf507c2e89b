//! What an executor is built from, checked before anything runs: each listener's
//! handler functions laid out by action, the webhooks' bearer tokens (read from the
//! environment once), and listeners' config with the store's overrides.

use crate::config::Secret;
use crate::jobs::handler::{HandlerFn, HandlerTable};
use crate::pipeline::{ActionDesc, PipelineDesc};

/// The webhooks' bearer tokens, by listener and action, read from the environment
/// (`token_env`): an error names the first one that is not set. Recorded calls (tests)
/// go nowhere and need no real token. A process checks them before it takes any
/// Lays `table` out by listener and action, checking it matches the description (it
/// is generated with it, so a mismatch is a bug in whatever wrote it).
pub(super) fn handler_thunks(
    pipeline: &PipelineDesc,
    table: HandlerTable,
) -> crate::error::Result<Vec<Vec<Option<HandlerFn>>>> {
    let mismatch = |what: String| {
        crate::error::Error::Config(format!(
            "the handler table does not match pipeline `{}`: {what}",
            pipeline.name
        ))
    };
    if table.len() != pipeline.listeners.len() {
        return Err(mismatch(format!(
            "{} listeners, {} entries",
            pipeline.listeners.len(),
            table.len()
        )));
    }
    pipeline
        .listeners
        .iter()
        .zip(table)
        .map(|(l, thunks)| {
            let mut thunks = thunks.iter();
            let laid_out: Vec<Option<HandlerFn>> = l
                .actions
                .iter()
                .map(|a| match a {
                    ActionDesc::Handler { function, .. } => {
                        thunks.next().copied().map(Some).ok_or_else(|| {
                            mismatch(format!("no thunk for `{function}` of `{}`", l.name))
                        })
                    }
                    _ => Ok(None),
                })
                .collect::<crate::error::Result<_>>()?;
            match thunks.next() {
                Some(_) => Err(mismatch(format!(
                    "more thunks than handlers for `{}`",
                    l.name
                ))),
                None => Ok(laid_out),
            }
        })
        .collect()
}

/// connection, so that a new build missing one never takes over from a working one.
pub fn webhook_tokens(
    pipeline: &PipelineDesc,
    recorded: bool,
) -> crate::error::Result<Vec<Vec<Option<Secret>>>> {
    let mut tokens = Vec::new();
    for l in pipeline.listeners {
        let mut per_action = Vec::new();
        for a in l.actions {
            let token = match a {
                ActionDesc::Webhook {
                    token_env: Some(var),
                    ..
                } => match std::env::var(var) {
                    Ok(v) if !v.is_empty() => Some(Secret::new(v)),
                    _ if recorded => Some(Secret::new(format!("${var}"))),
                    _ => {
                        return Err(crate::error::Error::Config(format!(
                            "listener `{}` needs the webhook token in ${var}, which is not set",
                            l.name
                        )));
                    }
                },
                _ => None,
            };
            per_action.push(token);
        }
        tokens.push(per_action);
    }
    Ok(tokens)
}

/// Each listener's `config` as the pipeline declares it, with `overrides` (by listener
/// name) applied.
pub(super) fn config_with(
    pipeline: &PipelineDesc,
    overrides: &std::collections::HashMap<String, Vec<(String, String)>>,
) -> ListenerConfigs {
    pipeline
        .listeners
        .iter()
        .map(|l| {
            let mut values: Vec<(String, String)> = l
                .config
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            for (k, v) in overrides.get(l.name).into_iter().flatten() {
                match values.iter_mut().find(|(key, _)| key == k) {
                    Some(slot) => slot.1 = v.clone(),
                    None => values.push((k.clone(), v.clone())),
                }
            }
            values
        })
        .collect()
}

/// Each listener's config values, in the pipeline's listener order.
pub(super) type ListenerConfigs = Vec<Vec<(String, String)>>;
