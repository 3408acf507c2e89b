//! Which build this process runs: the SHA-256 of its own executable, cut to 16 hex
//! digits. The same binary copied to several hosts is one build; any rebuild that
//! changes a byte (a pipeline edit, a handler, a zlc upgrade) is another.
//!
//! The store numbers builds in the order it first sees them ([`Store::register_build`]);
//! while processes of two builds share a store (a rolling upgrade, a `--watch`
//! handover), free connections go to the newest build ([`super::fleet`]).
//!
//! [`Store::register_build`]: crate::store::Store::register_build

use std::io::Read;

use crate::error::{Error, Result};

/// The build id of the running executable (read and hashed once, off the async
/// threads: about 10 ms for a 15 MB binary).
pub(super) async fn this_build() -> Result<String> {
    tokio::task::spawn_blocking(hash_own_executable)
        .await
        .map_err(|e| Error::Config(format!("reading this executable failed: {e}")))?
}

fn hash_own_executable() -> Result<String> {
    let path = std::env::current_exe()
        .map_err(|e| Error::Config(format!("cannot find this executable: {e}")))?;
    // `/proc/self/exe` still reads the running binary after it was replaced on disk (a
    // rebuild while it runs); the path by name would read the new one.
    let readable = std::path::Path::new("/proc/self/exe");
    let path = if readable.exists() {
        readable.to_path_buf()
    } else {
        path
    };
    let mut file = std::fs::File::open(&path)
        .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
    }
    Ok(ctx
        .finish()
        .as_ref()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_build_id_is_the_executables_and_stable() {
        let a = this_build().await.unwrap();
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()), "{a}");
        assert_eq!(
            this_build().await.unwrap(),
            a,
            "the same binary, the same id"
        );
    }
}
