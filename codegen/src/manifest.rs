//! One typed Cargo manifest for every `Cargo.toml` zlc writes: a generated pipeline's
//! crate ([`crate::expand`]), the build area's workspace and a new project (`zlc`'s
//! `area` and `project`). `toml` serializes it, so every name and path is quoted as
//! TOML wants whatever it holds; what a reader should know goes in comments at the top.

use std::collections::BTreeMap;

use serde::Serialize;

/// Where generated crates get `zlc-runtime` from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeDep {
    /// A checkout's `runtime/` folder.
    Path(String),
    /// A published version.
    Version(String),
}

/// A `Cargo.toml`.
#[derive(Debug, Default, Serialize)]
pub struct Manifest {
    /// Comment lines at the top (without `# `).
    #[serde(skip)]
    pub notes: Vec<String>,
    /// `[package]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<Package>,
    /// `[[bin]]` tables.
    #[serde(rename = "bin", skip_serializing_if = "Vec::is_empty")]
    pub bins: Vec<Bin>,
    /// `[dependencies]`, by the name the code uses.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub dependencies: BTreeMap<String, Dependency>,
    /// `[dev-dependencies]`.
    #[serde(
        rename = "dev-dependencies",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub dev_dependencies: BTreeMap<String, Dependency>,
    /// `[workspace]`: an empty one makes the crate a workspace of its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace: Option<Workspace>,
    /// `[profile.NAME]`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub profile: BTreeMap<String, Profile>,
}

/// `[package]`.
#[derive(Debug, Serialize)]
pub struct Package {
    /// The package name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The Rust edition.
    pub edition: String,
    /// One line about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether `cargo publish` may publish it.
    pub publish: bool,
}

impl Package {
    /// An unpublished 0.1.0 package of the 2024 edition.
    pub fn new(name: impl Into<String>) -> Package {
        Package {
            name: name.into(),
            version: "0.1.0".into(),
            edition: "2024".into(),
            description: None,
            publish: false,
        }
    }
}

/// A `[[bin]]` table.
#[derive(Debug, Serialize)]
pub struct Bin {
    /// The executable's name.
    pub name: String,
    /// Its `main.rs`.
    pub path: String,
}

/// One dependency.
#[derive(Debug, Default, Serialize)]
pub struct Dependency {
    /// A version requirement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// A local folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The package's name, when the code calls it otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// Features to turn on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
}

impl Dependency {
    /// `zlc-runtime` from `runtime`, with `features`.
    pub fn runtime(runtime: &RuntimeDep, features: &[&str]) -> Dependency {
        let (version, path) = match runtime {
            RuntimeDep::Path(p) => (None, Some(p.clone())),
            RuntimeDep::Version(v) => (Some(v.clone()), None),
        };
        Dependency {
            version,
            path,
            features: features.iter().map(|f| (*f).to_owned()).collect(),
            ..Dependency::default()
        }
    }

    /// A published crate.
    pub fn version(version: &str, features: &[&str]) -> Dependency {
        Dependency {
            version: Some(version.to_owned()),
            features: features.iter().map(|f| (*f).to_owned()).collect(),
            ..Dependency::default()
        }
    }
}

/// `[workspace]`.
#[derive(Debug, Default, Serialize)]
pub struct Workspace {
    /// The feature resolver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolver: Option<String>,
    /// Member globs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
}

/// A `[profile.NAME]` (or a package's override inside one).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Profile {
    /// The profile it starts from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inherits: Option<String>,
    /// `opt-level`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opt_level: Option<u8>,
    /// Debug information.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub debug: Option<bool>,
    /// Incremental compilation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incremental: Option<bool>,
    /// Link-time optimization (`"thin"`, `"fat"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lto: Option<String>,
    /// Code generation units.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codegen_units: Option<u32>,
    /// Strip symbols.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strip: Option<bool>,
    /// Per-package overrides.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub package: BTreeMap<String, Profile>,
}

impl Manifest {
    /// The file's text: the notes as comments, then the tables.
    pub fn render(&self) -> String {
        let mut out: String = self.notes.iter().map(|n| format!("# {n}\n")).collect();
        if !out.is_empty() {
            out.push('\n');
        }
        // Strings, booleans, integers and tables of them: nothing here can fail to
        // serialize (a value TOML cannot hold, such as a NaN, has no field to live in).
        match toml::to_string(self) {
            Ok(body) => out.push_str(&body),
            Err(e) => unreachable!("a manifest always serializes: {e}"),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_is_quoted_as_toml_wants_and_reads_back() {
        let mut m = Manifest {
            notes: vec!["made by a test".into()],
            package: Some(Package::new("zlc-pipeline-x")),
            bins: vec![Bin {
                name: "x".into(),
                path: "src/main.rs".into(),
            }],
            ..Manifest::default()
        };
        let odd = "/tmp/a \"quoted\" \\ path\u{1}/runtime";
        m.dependencies.insert(
            "zlc-runtime".into(),
            Dependency::runtime(&RuntimeDep::Path(odd.into()), &["macros"]),
        );
        m.profile.insert(
            "release".into(),
            Profile {
                incremental: Some(true),
                package: [(
                    "libsqlite3-sys".to_owned(),
                    Profile {
                        opt_level: Some(1),
                        ..Profile::default()
                    },
                )]
                .into(),
                ..Profile::default()
            },
        );
        let text = m.render();
        assert!(
            text.starts_with("# made by a test\n\n[package]\n"),
            "{text}"
        );
        let back: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(
            back["dependencies"]["zlc-runtime"]["path"].as_str(),
            Some(odd)
        );
        assert_eq!(
            back["profile"]["release"]["package"]["libsqlite3-sys"]["opt-level"].as_integer(),
            Some(1)
        );
        assert_eq!(back["bin"][0]["name"].as_str(), Some("x"));
        assert_eq!(back["package"]["publish"].as_bool(), Some(false));
    }

    #[test]
    fn a_published_runtime_is_a_version_requirement() {
        let d = Dependency::runtime(&RuntimeDep::Version("0.1".into()), &[]);
        assert_eq!((d.version.as_deref(), d.path), (Some("0.1"), None));
        let empty = Manifest {
            workspace: Some(Workspace::default()),
            ..Manifest::default()
        };
        assert_eq!(empty.render(), "[workspace]\n");
    }
}
