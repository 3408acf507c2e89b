//! End-to-end tests of the `zlc` binary, run as a process against the fake Zulip server.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::process::Command;

/// Runs `cmd` to its end with colour off and no input: exit code, stdout, stderr.
pub fn output(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

mod compile;
mod sandbox;
mod stats;
mod tail;
mod testing;
mod watch;
