//! `zlc test FILE...`: runs the test cases (`[[test]]`) pipeline files carry.
//!
//! Each file is checked and built as `zlc build` does (the cases do not change the
//! binary, so editing them rebuilds nothing); its cases go to the binary's hidden
//! `test` command as JSON, and its JSON report comes back here to be printed: one line
//! per case, and for a failed one, each failed expectation as a diff of what was
//! expected (`-`) and what happened (`+`).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use serde_json::{Value, json};

use crate::area::Profile;
use crate::compile::{self, BuildArgs};

/// How `zlc test` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people: one line per case, a diff for each failed expectation.
    Text,
    /// One JSON object on stdout: every case of every file, with what the listeners did.
    Json,
}

/// Options of `zlc test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Pipeline files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Build profile of the binaries the cases run in.
    #[arg(long, value_enum, default_value_t = Profile::Release)]
    pub profile: Profile,
}

/// `zlc test`: `Ok(true)` when every case of every file passed.
pub fn test(args: &TestArgs) -> Result<bool> {
    let colour = args.format == Format::Text
        && zlc_runtime::logging::colour(
            std::io::stdout().is_terminal(),
            std::env::var_os("NO_COLOR"),
        );
    let mut files = Vec::new();
    let (mut passed, mut failed) = (0usize, 0usize);
    for file in &args.files {
        let report = match run_file(file, args.profile) {
            Ok(r) => r,
            Err(e) => {
                json!({ "file": file.display().to_string(), "error": format!("{e:#}"), "cases": [] })
            }
        };
        let cases = report["cases"].as_array().map_or(&[][..], Vec::as_slice);
        let ok = cases.iter().filter(|c| c["passed"] == true).count();
        passed += ok;
        failed += cases.len() - ok;
        if report.get("error").is_some() {
            failed += 1;
        }
        if args.format == Format::Text {
            print!("{}", render_file(&report, colour));
        }
        files.push(report);
    }
    match args.format {
        Format::Json => println!(
            "{}",
            json!({ "files": files, "passed": passed, "failed": failed })
        ),
        Format::Text => {
            let total = passed + failed;
            println!(
                "{total} case{}: {passed} passed, {failed} failed",
                if total == 1 { "" } else { "s" }
            );
        }
    }
    Ok(failed == 0)
}

/// Builds `file`'s binary and runs its cases; the binary's report, with `file`.
fn run_file(file: &Path, profile: Profile) -> Result<Value> {
    let pipeline = compile::load(file)?;
    if pipeline.tests.is_empty() {
        bail!(
            "{} has no test cases: add a [[test]] table with `name`, `event` and `expect` (see the README's \"Testing pipelines\")",
            file.display()
        );
    }
    let base = file.parent().unwrap_or(Path::new("."));
    let mut cases = Vec::with_capacity(pipeline.tests.len());
    for t in &pipeline.tests {
        let mut case: Value = serde_json::from_str(&t.json)
            .context("the compiler wrote a test case that is not JSON (a zlc bug)")?;
        for event in case["events"].as_array_mut().into_iter().flatten() {
            if let Some(Value::String(rel)) = event.get_mut("file") {
                let path = base.join(&*rel);
                if !path.is_file() {
                    bail!(
                        "{}: test `{}` reads events from {rel:?}, but {} is not a file",
                        file.display(),
                        t.name.value,
                        path.display()
                    );
                }
                *rel = path.display().to_string();
            }
        }
        cases.push(case);
    }
    let bin = compile::build(&BuildArgs {
        file: file.to_owned(),
        output: None,
        profile,
    })?;
    let home = crate::area::home()?;
    let dir = home.join("tests");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let cases_file = dir.join(format!(
        "{}-{}.json",
        pipeline.name.value,
        std::process::id()
    ));
    std::fs::write(&cases_file, Value::Array(cases).to_string())
        .with_context(|| format!("writing {}", cases_file.display()))?;
    let output = Command::new(&bin)
        .args(["--log-level", "off", "test", "--cases"])
        .arg(&cases_file)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("starting {}", bin.display()));
    let _ = std::fs::remove_file(&cases_file);
    let output = output?;
    let mut report: Value = match serde_json::from_slice(&output.stdout) {
        Ok(v) if matches!(output.status.code(), Some(0 | 1)) => v,
        _ => bail!(
            "{} did not run its test cases ({}); its messages are above",
            bin.display(),
            output.status
        ),
    };
    report["file"] = json!(file.display().to_string());
    Ok(report)
}

/// One file's report, for people.
fn render_file(report: &Value, colour: bool) -> String {
    let paint = |code: &str, text: &str| {
        if colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    };
    let mut out = format!("{}\n", report["file"].as_str().unwrap_or("?"));
    if let Some(e) = report["error"].as_str() {
        out.push_str(&format!("  {} {e}\n", paint("31", "error:")));
        return out;
    }
    for case in report["cases"].as_array().into_iter().flatten() {
        let name = case["name"].as_str().unwrap_or("?");
        if case["passed"] == true {
            out.push_str(&format!("  {}    {name}\n", paint("32", "ok")));
            continue;
        }
        out.push_str(&format!("  {}  {name}\n", paint("31", "FAIL")));
        if let Some(e) = case["error"].as_str() {
            out.push_str(&format!("        error: {e}\n"));
        }
        for check in case["checks"].as_array().into_iter().flatten() {
            if check["passed"] == true {
                continue;
            }
            out.push_str(&format!(
                "        {} (- expected, + happened):\n",
                check["what"].as_str().unwrap_or("?")
            ));
            let lines = |k: &str| -> Vec<String> {
                check[k]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|l| {
                        l.as_str()
                            .map(|l| zlc_runtime::logging::escape(l).into_owned())
                    })
                    .collect()
            };
            for (sign, line) in diff(&lines("expected"), &lines("actual")) {
                let text = format!("          {sign} {line}");
                out.push_str(&match sign {
                    '-' => paint("31", &text),
                    '+' => paint("32", &text),
                    _ => text,
                });
                out.push('\n');
            }
        }
    }
    out
}

/// A line diff: (' ', line) in both, ('-', line) expected only, ('+', line) actual only.
fn diff(expected: &[String], actual: &[String]) -> Vec<(char, String)> {
    let e: Vec<&str> = expected.iter().map(String::as_str).collect();
    let a: Vec<&str> = actual.iter().map(String::as_str).collect();
    let d = similar::TextDiff::configure()
        .algorithm(similar::Algorithm::Myers)
        .diff_slices(&e, &a);
    d.iter_all_changes()
        .map(|c| {
            let sign = match c.tag() {
                similar::ChangeTag::Delete => '-',
                similar::ChangeTag::Insert => '+',
                similar::ChangeTag::Equal => ' ',
            };
            (sign, c.value().to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diff_shows_only_what_differs() {
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        let d = diff(&s(&["a", "b", "c"]), &s(&["a", "x", "c", "d"]));
        let signs: String = d.iter().map(|(s, _)| *s).collect();
        assert_eq!(signs, " -+ +");
        assert_eq!(d[4].1, "d");
    }

    #[test]
    fn a_failed_case_is_printed_with_its_diff() {
        let report = json!({
            "file": "p.toml",
            "cases": [
                {"name": "good", "passed": true, "checks": []},
                {"name": "bad", "passed": false, "checks": [
                    {"what": "messages", "passed": false,
                     "expected": ["[w] #g > t: \"Welcome, Dana!\""],
                     "actual": ["[w] #g > t: \"Welcome, dana!\"", "[w] #g > t: \"\u{1b}[2J\""]}
                ]}
            ]
        });
        let text = render_file(&report, false);
        assert!(text.contains("  ok    good\n"), "{text}");
        assert!(text.contains("  FAIL  bad\n"), "{text}");
        assert!(text.contains("- [w] #g > t: \"Welcome, Dana!\""), "{text}");
        assert!(text.contains("+ [w] #g > t: \"Welcome, dana!\""), "{text}");
        assert!(
            !text.contains('\u{1b}'),
            "control characters are escaped: {text}"
        );
    }
}
