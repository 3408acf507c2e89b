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
    /// The outgoing-webhook bot's token (the zuliprc's `token`), which Zulip sends with
    /// every push; `None` when the zuliprc has none.
    pub webhook_token: Option<Secret>,
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
            Some(path) => read_zuliprc(path, named, home, &mut warnings)?,
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

        let absent = [site.is_none(), email.is_none(), api_key.is_none()];
        let (Some(site), Some(email), Some(api_key)) = (site, email, api_key) else {
            return Err(missing_credentials(
                absent,
                file_path.as_deref(),
                file.is_some(),
            ));
        };

        let insecure = match self.insecure {
            Some(b) => b,
            None => env("ZULIP_ALLOW_INSECURE")
                .or_else(|| from_file("insecure"))
                .map_or(Ok(false), |v| {
                    parse_bool(&v).ok_or_else(|| {
                        Error::Config(format!("insecure must be true or false, not {v:?}"))
                    })
                })?,
        };
        let cert_bundle = self
            .cert_bundle
            .clone()
            .or_else(|| env("ZULIP_CERT_BUNDLE").map(PathBuf::from))
            .or_else(|| from_file("cert_bundle").map(PathBuf::from));

        let site = normalize_site(&site, insecure)?;
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
            email,
            api_key,
            insecure,
            cert_bundle,
            webhook_token: from_file("token").map(Secret),
            origin,
            warnings,
        })
    }
}

/// The zuliprc at `path`, if there is one: a missing file is no error unless it was
/// `named` (by a flag or `ZULIP_CONFIG`); a legacy `~/.humbugrc` beside none is.
fn read_zuliprc(
    path: &Path,
    named: bool,
    home: Option<&Path>,
    warnings: &mut Vec<String>,
) -> Result<Option<HashMap<String, String>>> {
    match std::fs::metadata(path) {
        Ok(_) => {
            let (text, warning) = read_secret_file_text(path, "a Zulip API key")?;
            warnings.extend(warning);
            Ok(Some(parse_zuliprc(&text, path)?))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !named => {
            match home.map(|h| h.join(".humbugrc")).filter(|h| h.exists()) {
                Some(legacy) => Err(Error::Config(format!(
                    "found the legacy {} but no ~/.zuliprc: rename it to ~/.zuliprc",
                    legacy.display()
                ))),
                None => Ok(None),
            }
        }
        Err(e) => Err(Error::Config(format!(
            "cannot read zuliprc {}: {e}",
            path.display()
        ))),
    }
}

/// The error for the credentials that are `absent` (site, email, API key), saying
/// where a zuliprc was looked for.
fn missing_credentials(absent: [bool; 3], file_path: Option<&Path>, read: bool) -> Error {
    const WHAT: [&str; 3] = [
        "site (`site` in a zuliprc, or ZULIP_SITE)",
        "email (`email` in a zuliprc, or ZULIP_EMAIL)",
        "API key (`key` in a zuliprc, or ZULIP_API_KEY)",
    ];
    let missing: Vec<&str> = (0..3).filter(|&i| absent[i]).map(|i| WHAT[i]).collect();
    let searched = match file_path {
        Some(p) if read => format!("read {}", p.display()),
        Some(p) => format!("no zuliprc at {}", p.display()),
        None => "no zuliprc (HOME is not set)".to_owned(),
    };
    Error::Config(format!(
        "missing Zulip credentials: {} ({searched}); name a zuliprc with --config-file, or put one at ~/.zuliprc",
        missing.join(", ")
    ))
}

/// Opens and reads a file that holds `what` (a secret), after checking what it is: a
/// regular file (not a device, FIFO, socket or folder, also behind a symbolic link) that
/// nobody else may change. Returns its text and a warning when others may read it.
///
/// The file is opened without blocking and checked through the open handle, so a FIFO
/// cannot hang the start and nothing can be swapped in between the check and the read.
/// Advice to `chmod` is given only for a regular file of the user's own; a link to a
/// file of someone else's gets advice that changes nothing of theirs.
pub fn read_secret_file_text(path: &Path, what: &str) -> Result<(String, Option<String>)> {
    use std::io::Read;
    let shown = path.display();
    let mut file =
        open_nonblocking(path).map_err(|e| Error::Config(format!("cannot read {shown}: {e}")))?;
    let meta = file
        .metadata()
        .map_err(|e| Error::Config(format!("cannot read {shown}: {e}")))?;
    let link = std::fs::read_link(path).ok();
    if !meta.is_file() {
        let through = match &link {
            Some(target) => format!(" (a symbolic link to {})", target.display()),
            None => String::new(),
        };
        return Err(Error::Config(format!(
            "{shown}{through} is not a regular file but {}; it should hold {what}: point it at a \
             regular file (a zuliprc is a text file with an [api] section)",
            file_kind(&meta)
        )));
    }
    let warning = permission_problem(path, link.as_deref(), &meta, what)?;
    // A secret file is a few lines; reading more than a megabyte means a wrong file.
    let mut text = String::new();
    (&mut file)
        .take(1 << 20)
        .read_to_string(&mut text)
        .map_err(|e| Error::Config(format!("cannot read {what} from {shown}: {e}")))?;
    Ok((text, warning))
}

/// Opens `path` for reading without waiting for a writer (a FIFO) or a device.
fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        /// `O_NONBLOCK` on Linux.
        const O_NONBLOCK: i32 = 0o4000;
        options.custom_flags(O_NONBLOCK);
    }
    options.open(path)
}

/// What a file that is not a regular one is, in words.
fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if meta.is_dir() {
        "a folder"
    } else {
        "not a plain file"
    }
}

/// An error when anyone on the machine may change the file (they could point the bot
/// elsewhere or swap the secret); a warning when others may read it. Fine where
/// permissions are not Unix modes.
fn permission_problem(
    path: &Path,
    link: Option<&Path>,
    meta: &std::fs::Metadata,
    what: &str,
) -> Result<Option<String>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o046 == 0 {
            return Ok(None);
        }
        let shown = path.display();
        let target = link.map(|l| match path.parent() {
            Some(dir) if l.is_relative() => dir.join(l),
            _ => l.to_path_buf(),
        });
        // A link is followed by chmod: advise it only for a file known to be ours.
        let ours = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
        let mine = match &target {
            Some(_) => ours == Some(meta.uid()),
            None => ours.is_none_or(|me| me == meta.uid()),
        };
        let fix = match (&target, mine) {
            (None, true) => format!("fix it with `chmod 600 {shown}`"),
            (Some(t), true) => format!(
                "it is a link to {t}: fix that file with `chmod 600 {t}`",
                t = t.display()
            ),
            (Some(t), false) => format!(
                "it is a link to {}, which is not a file of yours: use a copy of your own with mode 600 instead",
                t.display()
            ),
            (None, false) => format!(
                "it belongs to user {}, not to you: use a copy of your own with mode 600 instead",
                meta.uid()
            ),
        };
        if mode & 0o002 != 0 {
            return Err(Error::Config(format!(
                "{shown} holds {what} and every user on this machine may change it (mode {mode:04o}); \
                 refusing to use it: {fix}"
            )));
        }
        if mode & 0o044 != 0 {
            return Ok(Some(format!(
                "{shown} holds {what} and other users may read it (mode {mode:04o}); {fix}"
            )));
        }
    }
    Ok(None)
}

/// Reads a file holding a secret (a password), checked like a zuliprc; trailing line
/// breaks are not part of the secret.
pub fn read_secret_file(path: &Path, what: &str) -> Result<Secret> {
    let (text, warning) = read_secret_file_text(path, what)?;
    if let Some(w) = warning {
        tracing::warn!("{w}");
    }
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

    #[cfg(unix)]
    #[test]
    fn a_zuliprc_that_is_not_a_regular_file_is_refused_without_chmod_advice() {
        let dir = tempfile::tempdir().unwrap();
        let resolve = |rc: &Path| {
            ConfigOverrides {
                config_file: Some(rc.to_path_buf()),
                ..Default::default()
            }
            .resolve_with(env_of(&[]), None)
            .unwrap_err()
            .to_string()
        };
        // A link to /dev/null (mode 0666): "not a regular file", never `chmod /dev/null`.
        let null = dir.path().join("null-rc");
        std::os::unix::fs::symlink("/dev/null", &null).unwrap();
        let e = resolve(&null);
        assert!(
            e.contains("is not a regular file but a character device")
                && e.contains("a symbolic link to /dev/null")
                && !e.contains("chmod"),
            "{e}"
        );
        // A FIFO with no writer: refused at once, not waited on.
        let fifo = dir.path().join("fifo-rc");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            let started = std::time::Instant::now();
            let e = resolve(&fifo);
            assert!(
                e.contains("a named pipe (FIFO)") && !e.contains("chmod"),
                "{e}"
            );
            assert!(started.elapsed() < std::time::Duration::from_secs(5));
        }
        // A folder.
        let e = resolve(dir.path());
        assert!(e.contains("is not a regular file but a folder"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn chmod_advice_follows_a_link_only_to_a_file_of_ones_own() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real-rc");
        std::fs::write(
            &real,
            "[api]\nemail=a@x.com\nkey=k\nsite=chat.example.com\n",
        )
        .unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o644)).unwrap();
        let link = dir.path().join("link-rc");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let warnings = |rc: &Path| {
            ConfigOverrides {
                config_file: Some(rc.to_path_buf()),
                ..Default::default()
            }
            .resolve_with(env_of(&[]), None)
            .unwrap()
            .warnings
        };
        // Ours: the advice names the file the link points to.
        let w = warnings(&link);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains(&format!("it is a link to {}", real.display()))
                && w[0].contains(&format!("chmod 600 {}", real.display())),
            "{w:?}"
        );
        // Someone else's (possible to set up only as root): no chmod advice at all.
        let me = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
        let given = std::process::Command::new("chown")
            .arg("65534")
            .arg(&real)
            .status()
            .is_ok_and(|s| s.success());
        if given && me != Some(std::fs::metadata(&real).unwrap().uid()) {
            let w = warnings(&link);
            assert!(
                w[0].contains("which is not a file of yours") && !w[0].contains("chmod"),
                "{w:?}"
            );
            let w = warnings(&real);
            assert!(
                w[0].contains("belongs to user 65534") && !w[0].contains("chmod"),
                "{w:?}"
            );
        }
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
