//! Where a realm connection's credentials come from.
//!
//! The same sources and precedence as the official Python client: explicit values (CLI
//! flags) first, then `ZULIP_*` environment variables, then the zuliprc file
//! (`--config-file`, else `$ZULIP_CONFIG`, else `~/.zuliprc`). Keys never come from a
//! pipeline file and never reach a log: [`Secret`] prints as `"<redacted>"`.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A secret string (API key, webhook token) whose `Debug` and `Display` are redacted.
#[derive(Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str("<redacted>")
    }
}

/// Resolved settings for one Zulip account on one site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZulipConfig {
    /// The API base, normalized: `https://example.zulipchat.com/api`.
    pub site: String,
    /// The bot's or user's API email address.
    pub email: String,
    /// The API key.
    pub api_key: Secret,
    /// Skip TLS certificate verification and allow `http://` to any host.
    pub insecure: bool,
    /// Extra CA certificates (PEM) to trust.
    pub cert_bundle: Option<PathBuf>,
    /// Where the settings came from, for messages.
    pub origin: String,
    /// What is risky about these settings (a zuliprc others can read, TLS verification
    /// off); logged as warnings at every start by [`ConfigOverrides::resolve`].
    pub warnings: Vec<String>,
}

impl ZulipConfig {
    /// The site without the `/api` suffix, for people to read.
    pub fn site_url(&self) -> &str {
        self.site.strip_suffix("/api").unwrap_or(&self.site)
    }
}

/// Explicit values, as given on a command line; `None` falls through to the environment
/// and then the file.
#[derive(Debug, Clone, Default)]
pub struct ConfigOverrides {
    /// zuliprc path (`--config-file`).
    pub config_file: Option<PathBuf>,
    /// Site URL (`--site`).
    pub site: Option<String>,
    /// Email (`--email`).
    pub email: Option<String>,
    /// API key (only from trusted places: never a pipeline file).
    pub api_key: Option<Secret>,
    /// Skip TLS verification (`--insecure`).
    pub insecure: Option<bool>,
    /// CA bundle (`--cert-bundle`).
    pub cert_bundle: Option<PathBuf>,
}

impl ConfigOverrides {
    /// Resolves against the process environment and home directory, and logs what is
    /// risky about the result.
    pub fn resolve(&self) -> Result<ZulipConfig> {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let config = self.resolve_with(|k| std::env::var(k).ok(), home.as_deref())?;
        for w in &config.warnings {
            tracing::warn!("{w}");
        }
        Ok(config)
    }

    /// Resolves with an explicit environment (for tests).
    pub fn resolve_with(
        &self,
        env: impl Fn(&str) -> Option<String>,
        home: Option<&Path>,
    ) -> Result<ZulipConfig> {
        let env = |k: &str| env(k).filter(|v| !v.is_empty());
        let (file_path, named) = match (&self.config_file, env("ZULIP_CONFIG")) {
            (Some(p), _) => (Some(expand_home(p, home)), true),
            (None, Some(p)) => (Some(expand_home(Path::new(&p), home)), true),
            (None, None) => (home.map(|h| h.join(".zuliprc")), false),
        };
        let mut warnings = Vec::new();
        let file = match &file_path {
            Some(path) => match std::fs::read_to_string(path) {
                Ok(text) => {
                    warnings.extend(secret_file_warning(path, "a Zulip API key")?);
                    Some(parse_zuliprc(&text, path)?)
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !named => {
                    if let Some(h) = home.filter(|h| h.join(".humbugrc").exists()) {
                        return Err(Error::Config(format!(
                            "found the legacy {} but no ~/.zuliprc: rename it to ~/.zuliprc",
                            h.join(".humbugrc").display()
                        )));
                    }
                    None
                }
                Err(e) => {
                    return Err(Error::Config(format!(
                        "cannot read zuliprc {}: {e}",
                        path.display()
                    )));
                }
            },
            None => None,
        };
        let from_file = |k: &str| file.as_ref().and_then(|f| f.get(k).cloned());
        let origin = match (&file, &file_path) {
            (Some(_), Some(p)) => p.display().to_string(),
            _ => "environment and flags".to_owned(),
        };

        let pick = |explicit: &Option<String>, var: &str, key: &str| {
            explicit
                .clone()
                .or_else(|| env(var))
                .or_else(|| from_file(key))
        };
        let site = pick(&self.site, "ZULIP_SITE", "site");
        let email = pick(&self.email, "ZULIP_EMAIL", "email");
        let api_key = self
            .api_key
            .clone()
            .or_else(|| env("ZULIP_API_KEY").map(Secret))
            .or_else(|| from_file("key").map(Secret));

        let mut missing = Vec::new();
        if site.is_none() {
            missing.push("site (--site, ZULIP_SITE or `site` in zuliprc)");
        }
        if email.is_none() {
            missing.push("email (--email, ZULIP_EMAIL or `email` in zuliprc)");
        }
        if api_key.is_none() {
            missing.push("API key (ZULIP_API_KEY or `key` in zuliprc)");
        }
        if !missing.is_empty() {
            let searched = match &file_path {
                Some(p) if file.is_some() => format!("read {}", p.display()),
                Some(p) => format!("no zuliprc at {}", p.display()),
                None => "no zuliprc (HOME is not set)".to_owned(),
            };
            return Err(Error::Config(format!(
                "missing Zulip credentials: {} ({searched})",
                missing.join(", ")
            )));
        }

        let insecure = match self.insecure {
            Some(b) => b,
            None => match env("ZULIP_ALLOW_INSECURE").or_else(|| from_file("insecure")) {
                Some(v) => parse_bool(&v).ok_or_else(|| {
                    Error::Config(format!("insecure must be true or false, not {v:?}"))
                })?,
                None => false,
            },
        };
        let cert_bundle = self
            .cert_bundle
            .clone()
            .or_else(|| env("ZULIP_CERT_BUNDLE").map(PathBuf::from))
            .or_else(|| from_file("cert_bundle").map(PathBuf::from));

        let site = normalize_site(site.as_deref().unwrap_or_default(), insecure)?;
        if insecure {
            warnings.push(format!(
                "TLS CERTIFICATE VERIFICATION IS OFF for {} (insecure = true, from {origin}): \
                 anyone on the network path can read the API key and every event; \
                 trust a private CA with cert_bundle instead",
                site.trim_end_matches("/api")
            ));
        }
        Ok(ZulipConfig {
            site,
            email: email.unwrap_or_default(),
            api_key: api_key.unwrap_or_default(),
            insecure,
            cert_bundle,
            origin,
            warnings,
        })
    }
}

/// Checks the permissions of a file that holds `what` (a secret): an error when anyone
/// on the machine may write it (they could point the bot elsewhere or swap the secret),
/// a warning when others may read it. Always fine where permissions are not Unix modes.
pub fn secret_file_warning(path: &Path, what: &str) -> Result<Option<String>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?
            .permissions()
            .mode()
            & 0o7777;
        let shown = path.display();
        if mode & 0o002 != 0 {
            return Err(Error::Config(format!(
                "{shown} holds {what} and every user on this machine may change it (mode {mode:04o}); \
                 refusing to use it: fix it with `chmod 600 {shown}`"
            )));
        }
        if mode & 0o044 != 0 {
            return Ok(Some(format!(
                "{shown} holds {what} and other users may read it (mode {mode:04o}); \
                 fix it with `chmod 600 {shown}`"
            )));
        }
    }
    Ok(None)
}

/// Reads a file holding a secret (a password), checked like a zuliprc; trailing line
/// breaks are not part of the secret.
pub fn read_secret_file(path: &Path, what: &str) -> Result<Secret> {
    if let Some(w) = secret_file_warning(path, what)? {
        tracing::warn!("{w}");
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("cannot read {what} from {}: {e}", path.display())))?;
    Ok(Secret::new(text.trim_end_matches(['\r', '\n'])))
}

fn expand_home(p: &Path, home: Option<&Path>) -> PathBuf {
    match (p.strip_prefix("~"), home) {
        (Ok(rest), Some(h)) => h.join(rest),
        _ => p.to_path_buf(),
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// Reads the `[api]` section of a zuliprc (INI) file.
pub fn parse_zuliprc(text: &str, path: &Path) -> Result<HashMap<String, String>> {
    let mut section = None::<String>;
    let mut api = HashMap::new();
    let mut saw_api = false;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = Some(name.trim().to_owned());
            saw_api |= name.trim() == "api";
            continue;
        }
        let Some((k, v)) = line.split_once('=').or_else(|| line.split_once(':')) else {
            return Err(Error::Config(format!(
                "{}:{}: expected `key = value`, found {line:?}",
                path.display(),
                n + 1
            )));
        };
        if section.as_deref() == Some("api") {
            api.insert(k.trim().to_owned(), v.trim().to_owned());
        }
    }
    if !saw_api {
        return Err(Error::Config(format!(
            "{}: no [api] section (a zuliprc has `[api]` with email, key and site)",
            path.display()
        )));
    }
    Ok(api)
}

/// Normalizes a site the way the Python client does, and checks it is a usable URL.
///
/// No scheme: `https://` (`http://` for `localhost`). Trailing slashes are dropped and
/// `/api` appended. `http://` is refused unless the host is loopback or `insecure`.
pub fn normalize_site(site: &str, insecure: bool) -> Result<String> {
    let raw = site.trim();
    if raw.is_empty() {
        return Err(Error::Config("the site URL is empty".into()));
    }
    let with_scheme = if raw.contains("://") {
        raw.to_owned()
    } else if raw.starts_with("localhost") || raw.starts_with("127.") || raw.starts_with("[::1]") {
        format!("http://{raw}")
    } else {
        format!("https://{raw}")
    };
    let url = reqwest::Url::parse(&with_scheme)
        .map_err(|e| Error::Config(format!("site {raw:?} is not a valid URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" => {
            let loopback = match url.host() {
                Some(url::Host::Domain(d)) => d == "localhost",
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            if !loopback && !insecure {
                return Err(Error::Config(format!(
                    "site {raw:?} uses http:// to a non-loopback host; use https:// \
                     (or set insecure = true to allow it)"
                )));
            }
        }
        other => {
            return Err(Error::Config(format!(
                "site {raw:?} has scheme {other:?}; expected https:// (or http:// for localhost)"
            )));
        }
    }
    let Some(host) = url.host_str() else {
        return Err(Error::Config(format!("site {raw:?} has no host")));
    };
    if host.contains("..") || host.starts_with('.') || host.ends_with('.') {
        return Err(Error::Config(format!(
            "site {raw:?} has a malformed host {host:?}"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Config(format!(
            "site {raw:?} must not have a query or fragment"
        )));
    }
    let mut s = with_scheme.trim_end_matches('/').to_owned();
    if !s.ends_with("/api") {
        s.push_str("/api");
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn site_normalization_matches_python_client() {
        assert_eq!(
            normalize_site("chat.example.com", false).unwrap(),
            "https://chat.example.com/api"
        );
        assert_eq!(
            normalize_site("https://chat.example.com///", false).unwrap(),
            "https://chat.example.com/api"
        );
        assert_eq!(
            normalize_site("https://chat.example.com/api", false).unwrap(),
            "https://chat.example.com/api"
        );
        assert_eq!(
            normalize_site("localhost:9991", false).unwrap(),
            "http://localhost:9991/api"
        );
        assert_eq!(
            normalize_site("http://127.0.0.1:8080/", false).unwrap(),
            "http://127.0.0.1:8080/api"
        );
    }

    #[test]
    fn bad_sites_are_explained() {
        let e = normalize_site("htps://chat.example.com", false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("scheme \"htps\""), "{e}");
        let e = normalize_site("http://chat.example.com", false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("non-loopback"), "{e}");
        assert!(normalize_site("http://chat.example.com", true).is_ok());
        let e = normalize_site("https://chat..example.com", false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("malformed host"), "{e}");
        let e = normalize_site("  ", false).unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
    }

    #[test]
    fn precedence_is_flags_then_env_then_file() {
        let dir = tempfile::tempdir().unwrap();
        let rc = dir.path().join("zuliprc");
        std::fs::write(
            &rc,
            "[api]\nemail=file@x.com\nkey=filekey\nsite=file.example.com\n",
        )
        .unwrap();
        let o = ConfigOverrides {
            config_file: Some(rc.clone()),
            ..Default::default()
        };
        let c = o.resolve_with(env_of(&[]), None).unwrap();
        assert_eq!(
            (c.email.as_str(), c.api_key.expose()),
            ("file@x.com", "filekey")
        );
        assert_eq!(c.site, "https://file.example.com/api");

        let c = o
            .resolve_with(env_of(&[("ZULIP_EMAIL", "env@x.com")]), None)
            .unwrap();
        assert_eq!(c.email, "env@x.com");
        assert_eq!(c.api_key.expose(), "filekey");

        let o = ConfigOverrides {
            email: Some("flag@x.com".into()),
            ..o
        };
        let c = o
            .resolve_with(env_of(&[("ZULIP_EMAIL", "env@x.com")]), None)
            .unwrap();
        assert_eq!(c.email, "flag@x.com");
    }

    #[test]
    fn missing_and_unreadable_files_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let o = ConfigOverrides {
            config_file: Some(dir.path().join("nope")),
            ..Default::default()
        };
        let e = o.resolve_with(env_of(&[]), None).unwrap_err().to_string();
        assert!(
            e.contains("cannot read zuliprc") && e.contains("nope"),
            "{e}"
        );

        let e = ConfigOverrides::default()
            .resolve_with(env_of(&[]), Some(dir.path()))
            .unwrap_err();
        let e = e.to_string();
        assert!(
            e.contains("missing Zulip credentials") && e.contains("no zuliprc at"),
            "{e}"
        );

        std::fs::write(dir.path().join(".humbugrc"), "[api]\n").unwrap();
        let e = ConfigOverrides::default()
            .resolve_with(env_of(&[]), Some(dir.path()))
            .unwrap_err();
        assert!(e.to_string().contains("rename it to ~/.zuliprc"));

        let rc = dir.path().join("bad");
        std::fs::write(&rc, "email=a\n").unwrap();
        let o = ConfigOverrides {
            config_file: Some(rc),
            ..Default::default()
        };
        let e = o.resolve_with(env_of(&[]), None).unwrap_err().to_string();
        assert!(e.contains("no [api] section"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn zuliprc_permissions_are_checked() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let rc = dir.path().join("zuliprc");
        std::fs::write(&rc, "[api]\nemail=a@x.com\nkey=k\nsite=chat.example.com\n").unwrap();
        let o = ConfigOverrides {
            config_file: Some(rc.clone()),
            ..Default::default()
        };
        let set =
            |mode| std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(mode)).unwrap();
        set(0o600);
        assert_eq!(
            o.resolve_with(env_of(&[]), None).unwrap().warnings,
            Vec::<String>::new()
        );
        set(0o644);
        let w = o.resolve_with(env_of(&[]), None).unwrap().warnings;
        assert_eq!(w.len(), 1);
        assert!(
            w[0].contains(&rc.display().to_string())
                && w[0].contains("mode 0644")
                && w[0].contains(&format!("chmod 600 {}", rc.display())),
            "{w:?}"
        );
        set(0o640);
        assert_eq!(o.resolve_with(env_of(&[]), None).unwrap().warnings.len(), 1);
        set(0o666);
        let e = o.resolve_with(env_of(&[]), None).unwrap_err().to_string();
        assert!(
            e.contains("refusing") && e.contains("mode 0666") && e.contains("chmod 600"),
            "{e}"
        );
    }

    #[test]
    fn insecure_is_a_loud_warning() {
        let c = ConfigOverrides {
            site: Some("chat.example.com".into()),
            email: Some("bot@x.com".into()),
            api_key: Some(Secret::new("k")),
            insecure: Some(true),
            ..Default::default()
        }
        .resolve_with(env_of(&[]), None)
        .unwrap();
        assert_eq!(c.warnings.len(), 1);
        assert!(
            c.warnings[0]
                .starts_with("TLS CERTIFICATE VERIFICATION IS OFF for https://chat.example.com"),
            "{:?}",
            c.warnings
        );
    }

    #[test]
    fn secrets_are_redacted() {
        let c = ConfigOverrides {
            site: Some("chat.example.com".into()),
            email: Some("bot@x.com".into()),
            api_key: Some(Secret::new("hunter2-secret")),
            ..Default::default()
        }
        .resolve_with(env_of(&[]), None)
        .unwrap();
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("hunter2") && dbg.contains("<redacted>"),
            "{dbg}"
        );
        assert_eq!(serde_json::to_string(&c.api_key).unwrap(), "\"<redacted>\"");
    }
}
