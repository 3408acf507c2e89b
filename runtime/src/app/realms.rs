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

/// One `--config-file`: a zuliprc for every realm, or (`REALM=PATH`) for one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFile {
    /// The realm it is for; `None`: every realm without one of its own.
    pub realm: Option<u32>,
    /// The zuliprc.
    pub path: PathBuf,
}

impl ConfigFile {
    /// Reads `PATH` or `REALM=PATH` (a path that itself holds `=` is taken whole unless
    /// what precedes the first `=` is a realm id).
    pub fn parse(s: &str) -> std::result::Result<ConfigFile, String> {
        let (realm, path) = match s.split_once('=') {
            Some((id, path)) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => {
                let id = id
                    .parse()
                    .map_err(|_| format!("realm id {id:?} is too large"))?;
                (Some(id), path)
            }
            _ => (None, s),
        };
        if path.is_empty() {
            return Err("the zuliprc's path is empty".into());
        }
        Ok(ConfigFile {
            realm,
            path: PathBuf::from(path),
        })
    }

    /// The zuliprc `files` give realm `id`: its own, else the one for every realm.
    pub fn for_realm(files: &[ConfigFile], id: u32) -> Option<&PathBuf> {
        let own = files.iter().find(|f| f.realm == Some(id));
        own.or_else(|| files.iter().find(|f| f.realm.is_none()))
            .map(|f| &f.path)
    }

    /// Checks `files` against `p`: one zuliprc for every realm at most, one per realm,
    /// and only realms the pipeline has.
    pub fn check(files: &[ConfigFile], p: &PipelineDesc) -> Result<()> {
        let mut seen: Vec<Option<u32>> = Vec::new();
        for f in files {
            if seen.contains(&f.realm) {
                return Err(Error::Config(match f.realm {
                    Some(id) => format!("--config-file gives realm {id} two zuliprc files"),
                    None => "--config-file gives two zuliprc files for every realm; name the realm of each: --config-file REALM=PATH".into(),
                }));
            }
            seen.push(f.realm);
            if let Some(id) = f.realm
                && !p.realms.iter().any(|r| r.id == id)
            {
                let ids: Vec<String> = p.realms.iter().map(|r| r.id.to_string()).collect();
                return Err(Error::Config(format!(
                    "--config-file names realm {id}, which pipeline `{}` does not have (its realms: {})",
                    p.name,
                    ids.join(", ")
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_file_is_for_every_realm_or_for_one() {
        let all = ConfigFile::parse("bot.zuliprc").unwrap();
        assert_eq!((all.realm, all.path.to_str()), (None, Some("bot.zuliprc")));
        let two = ConfigFile::parse("2=other/bot.zuliprc").unwrap();
        assert_eq!(
            (two.realm, two.path.to_str()),
            (Some(2), Some("other/bot.zuliprc"))
        );
        let odd = ConfigFile::parse("a=b.zuliprc").unwrap();
        assert_eq!((odd.realm, odd.path.to_str()), (None, Some("a=b.zuliprc")));
        assert!(ConfigFile::parse("2=").is_err());
        assert!(ConfigFile::parse("99999999999=x").is_err());
        let files = [all, two];
        assert_eq!(
            ConfigFile::for_realm(&files, 2).unwrap().to_str(),
            Some("other/bot.zuliprc")
        );
        assert_eq!(
            ConfigFile::for_realm(&files, 1).unwrap().to_str(),
            Some("bot.zuliprc")
        );
        assert!(ConfigFile::for_realm(&files[1..], 1).is_none());
    }
}
