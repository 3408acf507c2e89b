//! End-to-end tests of zlc live in `tests/e2e/`: they build every pipeline in
//! `pipelines/` with `zlc build`'s own code and run the binaries as processes against
//! the fake Zulip server or a replay file. This library is empty on purpose.
