//! Reading a pipeline's text into a checked model: the TOML front end, then the checks.

use crate::diag::Diagnostics;
use crate::model::Pipeline;
use crate::{check, toml};

/// A pipeline that passed its checks, with the warnings they raised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The checked pipeline.
    pub pipeline: Pipeline,
    /// Warnings: the pipeline builds, but may not do what was meant.
    pub warnings: Diagnostics,
}

/// Parses `source`, runs `before_checks`, then every check.
pub(crate) fn checked(
    file: &str,
    source: &str,
    before_checks: impl FnOnce(&mut Pipeline, &mut Diagnostics),
) -> Result<Loaded, Diagnostics> {
    let (pipeline, mut d) = toml::parse(file, source);
    let Some(mut pipeline) = pipeline else {
        d.sort();
        return Err(d);
    };
    before_checks(&mut pipeline, &mut d);
    check::check(&mut pipeline, &mut d);
    // The `[[test]]` cases are the TOML front end's own.
    toml::check_tests(&pipeline, &mut d);
    d.sort();
    if d.errors() == 0 {
        Ok(Loaded {
            pipeline,
            warnings: d.into_warnings(),
        })
    } else {
        Err(d)
    }
}
