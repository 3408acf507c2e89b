//! Which realm connections run, and where their credentials come from.

use std::path::PathBuf;

use crate::config::{ConfigOverrides, Secret, ZulipConfig};
use crate::error::{Error, Result};
use crate::pipeline::{CredentialsDesc, PipelineDesc, RealmDesc};

/// Resolves a realm's credentials (the key only ever from a file or the environment).
pub fn realm_config(realm: &RealmDesc, config_file: Option<&PathBuf>) -> Result<ZulipConfig> {
    let overrides = match (config_file, &realm.credentials) {
        (Some(path), _) => ConfigOverrides {
            config_file: Some(path.clone()),
            ..Default::default()
        },
        (None, CredentialsDesc::Default) => ConfigOverrides::default(),
        (None, CredentialsDesc::Zuliprc(path)) => ConfigOverrides {
            config_file: Some(PathBuf::from(path)),
            ..Default::default()
        },
        (
            None,
            CredentialsDesc::Explicit {
                site,
                email,
                api_key_env,
            },
        ) => {
            let key = std::env::var(api_key_env)
                .ok()
                .filter(|k| !k.is_empty())
                .ok_or_else(|| {
                    Error::Config(format!(
                        "realm {} needs its API key in ${api_key_env}, which is not set",
                        realm.id
                    ))
                })?;
            ConfigOverrides {
                site: Some((*site).to_owned()),
                email: Some((*email).to_owned()),
                api_key: Some(Secret::new(key)),
                ..Default::default()
            }
        }
    };
    overrides.resolve()
}

pub(super) fn pick_realms(p: &PipelineDesc, only: Option<u32>) -> Result<Vec<&RealmDesc>> {
    match only {
        None => Ok(p.realms.iter().collect()),
        Some(id) => match p.realms.iter().find(|r| r.id == id) {
            Some(r) => Ok(vec![r]),
            None => {
                let ids: Vec<String> = p.realms.iter().map(|r| r.id.to_string()).collect();
                Err(Error::Config(format!(
                    "realm {id} is not in this pipeline (realms: {})",
                    ids.join(", ")
                )))
            }
        },
    }
}

/// `e`, with where the refused credentials came from when the server refused them: the
/// email and the zuliprc (or the environment) to look at.
pub(super) fn explain_refusal(e: Error, cfg: &ZulipConfig) -> Error {
    match e {
        Error::Auth { .. } => Error::Config(format!(
            "{e}; the key of {} from {} was refused by {}: check `key` and `email` there",
            cfg.email,
            cfg.origin,
            cfg.site_url()
        )),
        other => other,
    }
}
