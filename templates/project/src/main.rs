//! The {{name}} binary: `run`, `list`, `check`, `config`, ... (`{{name}} --help`).

fn main() -> std::process::ExitCode {
    {{crate}}::PIPELINE.main()
}
