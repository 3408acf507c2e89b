//! The network: listening ([`bind`], for `--metrics` and `--listen`), and outbound
//! HTTP to URLs a pipeline names (webhooks), with the server-side request forgery guard
//! at connect time.
//!
//! `zlc check` refuses URLs whose literal host is internal (see [`zlc_ssrf`]); here the
//! same rule is applied to every address a host *name* resolves to, when the connection
//! is made, so that a public-looking name pointing at `10.0.0.1` or `169.254.169.254`
//! (or re-pointed there after the check) is refused too. Internal addresses are dropped
//! from the answer; a name with no public address fails with a [`Refused`] error that
//! is not retried. Redirects are never followed, so a public server cannot bounce a
//! request inward. An action with `allow_private = true` uses an unguarded client.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Name, Resolve, Resolving};

/// A connection the guard refused: the host has no public address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{host} resolves to {addr}, a {range} address; webhooks reach only public addresses \
     unless the action sets allow_private = true"
)]
pub struct Refused {
    /// The host name.
    pub host: String,
    /// The first internal address it resolved to.
    pub addr: std::net::IpAddr,
    /// Which range that address is in.
    pub range: &'static str,
}

/// Resolves with the system resolver and keeps only public addresses.
#[derive(Debug, Clone, Copy, Default)]
pub struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let (public, internal): (Vec<SocketAddr>, Vec<SocketAddr>) = resolved
                .into_iter()
                .partition(|a| zlc_ssrf::internal_range(a.ip()).is_none());
            match (public.is_empty(), internal.first()) {
                (true, Some(first)) => Err(Box::new(Refused {
                    host,
                    addr: first.ip(),
                    range: zlc_ssrf::internal_range(first.ip()).unwrap_or("internal"),
                }) as _),
                _ => Ok(Box::new(public.into_iter()) as _),
            }
        })
    }
}

/// The HTTP client for webhook actions: no redirects, a connect timeout, and unless
/// `allow_private`, the [`PublicOnly`] resolver.
pub fn webhook_client(allow_private: bool) -> crate::error::Result<reqwest::Client> {
    crate::client::install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("zlc/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10));
    if !allow_private {
        builder = builder.dns_resolver(Arc::new(PublicOnly));
    }
    builder
        .build()
        .map_err(|e| crate::error::Error::Config(format!("HTTP client: {e}")))
}

/// Whether an outbound call may go to `url`: `https://`, or `http://` to this machine
/// with `allow_private`; a literal host that is internal only with `allow_private`.
/// (Names are judged again, by what they resolve to, at connect time.)
pub fn check_url(url: &str, allow_private: bool) -> Result<(), String> {
    let parsed =
        reqwest::Url::parse(url).map_err(|e| format!("{url:?} is not a valid URL ({e})"))?;
    let host = parsed.host_str().unwrap_or_default();
    match parsed.scheme() {
        "https" => {}
        "http"
            if allow_private
                && zlc_ssrf::internal_host(host).is_some_and(|r| r.starts_with("loopback")) => {}
        "http" => {
            return Err(format!(
                "{url} uses http://, allowed only to this machine (with allow_private = true)"
            ));
        }
        other => return Err(format!("{url}: scheme `{other}` is not supported")),
    }
    match literal_refusal(url, allow_private) {
        Some(reason) => Err(reason),
        None => Ok(()),
    }
}

/// Why `url`'s literal host may not be reached, if it may not. IP literals never go
/// through a resolver, so they are checked before each request.
pub fn literal_refusal(url: &str, allow_private: bool) -> Option<String> {
    if allow_private {
        return None;
    }
    let host = reqwest::Url::parse(url).ok()?.host_str()?.to_owned();
    zlc_ssrf::internal_host(&host).map(|range| {
        format!(
            "{host} is a {range} address; webhooks reach only public addresses unless the \
             action sets allow_private = true"
        )
    })
}

/// Whether an error (or anything in its source chain) is a refusal by the guard.
pub fn is_refused(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.is::<Refused>() {
            return true;
        }
        cur = err.source();
    }
    false
}

/// Listens on `addr` for the server `flag` names (`--metrics`, `--listen`): the
/// listener and the address bound (port 0 picks one).
pub(crate) async fn bind(
    flag: &str,
    addr: std::net::SocketAddr,
) -> crate::error::Result<(tokio::net::TcpListener, std::net::SocketAddr)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| crate::error::Error::Config(format!("{flag} {addr}: cannot listen: {e}")))?;
    let local = listener
        .local_addr()
        .map_err(|e| crate::error::Error::Config(format!("{flag} {addr}: {e}")))?;
    Ok((listener, local))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_refused_at_connect_time() {
        // Something listens, so only the guard can make this fail.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = vec![0; 4096];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
                    )
                    .await;
            }
        });
        let url = format!("http://localhost:{port}/hook");
        let guarded = webhook_client(false).unwrap();
        let err = guarded.post(&url).send().await.unwrap_err();
        assert!(is_refused(&err), "{err:?}");
        let text = crate::client::describe(&err);
        assert!(
            text.contains("localhost resolves to 127.0.0.1, a loopback"),
            "{text}"
        );
        // The opt-in client reaches it.
        let open = webhook_client(true).unwrap();
        assert_eq!(open.post(&url).send().await.unwrap().status(), 200);
    }

    #[test]
    fn literal_hosts_are_refused_before_any_request() {
        for url in [
            "https://169.254.169.254/latest/meta-data/",
            "https://10.0.0.1/",
            "https://[::ffff:127.0.0.1]/x",
            "http://2130706433/",
        ] {
            assert!(literal_refusal(url, false).is_some(), "{url}");
            assert_eq!(literal_refusal(url, true), None, "{url}");
        }
        assert_eq!(literal_refusal("https://hooks.example.com/x", false), None);
    }
}
