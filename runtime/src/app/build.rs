//! Which build this process runs: the GNU build id the linker wrote into the executable
//! (a hash of the linked output, read from its notes in one page), else the SHA-256 of
//! the whole executable; 16 hex digits either way. The same binary copied to several
//! hosts is one build; any rebuild that changes a byte (a pipeline edit, a handler, a
//! zlc upgrade) is another.
//!
//! The store numbers builds in the order it first sees them ([`Store::register_build`]);
//! while processes of two builds share a store (a rolling upgrade, a `--watch`
//! handover), free connections go to the newest build ([`super::fleet`]).
//!
//! [`Store::register_build`]: crate::store::Store::register_build

use std::io::Read;

use crate::error::{Error, Result};

/// The build id of the running executable (read off the async threads).
pub(super) async fn this_build() -> Result<String> {
    tokio::task::spawn_blocking(build_of_own_executable)
        .await
        .map_err(|e| Error::Config(format!("reading this executable failed: {e}")))?
}

fn build_of_own_executable() -> Result<String> {
    // `/proc/self/exe` still reads the running binary after it was replaced on disk (a
    // rebuild while it runs); the path by name would read the new one.
    let proc = std::path::Path::new("/proc/self/exe");
    let path = if proc.exists() {
        proc.to_path_buf()
    } else {
        std::env::current_exe()
            .map_err(|e| Error::Config(format!("cannot find this executable: {e}")))?
    };
    let unreadable =
        |e: std::io::Error| Error::Config(format!("cannot read {}: {e}", path.display()));
    let mut file = std::fs::File::open(&path).map_err(unreadable)?;
    if let Some(id) = gnu_build_id(&file) {
        return Ok(hex(&id));
    }
    // No build id (another linker, or not ELF): hash the whole file (about 25 ms for
    // 16 MB, against one page for the note).
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(unreadable)?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
    }
    Ok(hex(ctx.finish().as_ref()))
}

/// The first 8 bytes of `bytes` in hex: 16 digits.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The `NT_GNU_BUILD_ID` note of a 64-bit little-endian ELF file (x86-64, AArch64), if
/// it has one of at least 8 bytes.
fn gnu_build_id(file: &std::fs::File) -> Option<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let read = |offset: u64, len: usize| -> Option<Vec<u8>> {
        let mut buf = vec![0u8; len];
        file.read_exact_at(&mut buf, offset).ok()?;
        Some(buf)
    };
    let u16_at = |b: &[u8], i: usize| Some(u16::from_le_bytes(b.get(i..i + 2)?.try_into().ok()?));
    let u32_at = |b: &[u8], i: usize| Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?));
    let u64_at = |b: &[u8], i: usize| Some(u64::from_le_bytes(b.get(i..i + 8)?.try_into().ok()?));
    let header = read(0, 64)?;
    // ELF, 64-bit, little-endian.
    if header[..4] != *b"\x7fELF" || header[4] != 2 || header[5] != 1 {
        return None;
    }
    let (phoff, phentsize, phnum) = (
        u64_at(&header, 0x20)?,
        usize::from(u16_at(&header, 0x36)?),
        usize::from(u16_at(&header, 0x38)?),
    );
    if phentsize < 56 || phnum > 256 {
        return None;
    }
    let table = read(phoff, phentsize * phnum)?;
    for ph in table.chunks_exact(phentsize) {
        const PT_NOTE: u32 = 4;
        if u32_at(ph, 0)? != PT_NOTE {
            continue;
        }
        let (offset, size) = (u64_at(ph, 8)?, u64_at(ph, 32)?);
        if size > 1 << 16 {
            continue;
        }
        let notes = read(offset, size as usize)?;
        let mut at = 0;
        while at + 12 <= notes.len() {
            let namesz = u32_at(&notes, at)? as usize;
            let descsz = u32_at(&notes, at + 4)? as usize;
            let kind = u32_at(&notes, at + 8)?;
            let name_at = at + 12;
            let desc_at = name_at + namesz.div_ceil(4) * 4;
            let next = desc_at + descsz.div_ceil(4) * 4;
            const NT_GNU_BUILD_ID: u32 = 3;
            if kind == NT_GNU_BUILD_ID
                && notes.get(name_at..name_at + namesz) == Some(b"GNU\0")
                && descsz >= 8
            {
                return notes.get(desc_at..desc_at + descsz).map(<[u8]>::to_vec);
            }
            at = next;
        }
    }
    None
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

    #[test]
    fn the_linkers_build_id_is_read_where_readelf_finds_it() {
        let exe = std::fs::File::open("/proc/self/exe").unwrap();
        let ours =
            gnu_build_id(&exe).map(|id| id.iter().map(|b| format!("{b:02x}")).collect::<String>());
        // readelf, where installed, says what the note holds.
        let me = format!("/proc/{}/exe", std::process::id());
        let Ok(out) = std::process::Command::new("readelf")
            .args(["-n", &me])
            .output()
        else {
            eprintln!("skipped: no readelf");
            return;
        };
        let text = String::from_utf8_lossy(&out.stdout);
        let theirs = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Build ID: "))
            .map(str::to_owned);
        assert!(theirs.is_some(), "this linker writes a build id: {text}");
        assert_eq!(ours, theirs);
    }

    #[test]
    fn not_elf_means_no_build_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("script");
        std::fs::write(&path, "#!/bin/sh\necho hello\n").unwrap();
        assert_eq!(gnu_build_id(&std::fs::File::open(&path).unwrap()), None);
    }
}
