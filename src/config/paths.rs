//! Where CodeForge keeps its files: config, data (ledger), cache and logs.
//!
//! Owns the path rules only (`CODEFORGE_HOME`, then the platform directories).
//! Must not import the provider, router, ledger or tui modules.

use std::path::{Path, PathBuf};

use super::ConfigError;

/// Every directory CodeForge reads or writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
    pub cache_dir: PathBuf,
    pub log_dir: PathBuf,
    /// `--demo` with a key set: the simulator's spend and speeds go to their own ledger,
    /// never into the real one (without a key everything is the demo's anyway).
    pub demo_ledger: bool,
}

impl Paths {
    /// `CODEFORGE_HOME=<dir>` puts everything under that one directory; otherwise the
    /// platform's config / data / cache directories are used.
    pub fn resolve() -> Result<Self, ConfigError> {
        match std::env::var_os("CODEFORGE_HOME") {
            Some(home) if !home.is_empty() => Ok(Self::under(Path::new(&home))),
            _ => {
                let dirs = directories::ProjectDirs::from("dev", "codeforge", "codeforge")
                    .ok_or(ConfigError::NoHomeDirectory)?;
                Ok(Self {
                    config_dir: dirs.config_dir().to_path_buf(),
                    data_dir: dirs.data_dir().to_path_buf(),
                    cache_dir: dirs.cache_dir().to_path_buf(),
                    log_dir: dirs.data_dir().join("logs"),
                    demo_ledger: false,
                })
            }
        }
    }

    /// All directories below one root (what `CODEFORGE_HOME` selects).
    pub fn under(root: &Path) -> Self {
        Self {
            config_dir: root.to_path_buf(),
            data_dir: root.to_path_buf(),
            cache_dir: root.join("cache"),
            log_dir: root.join("logs"),
            demo_ledger: false,
        }
    }

    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join("config.toml")
    }

    pub fn ledger_file(&self) -> PathBuf {
        self.data_dir.join(if self.demo_ledger {
            "ledger-demo.db"
        } else {
            "ledger.db"
        })
    }

    pub fn models_cache_file(&self) -> PathBuf {
        self.cache_dir.join("models-cache.json")
    }

    pub fn themes_dir(&self) -> PathBuf {
        self.config_dir.join("themes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_puts_everything_under_one_root() {
        let p = Paths::under(Path::new("/tmp/cf"));
        assert_eq!(p.config_file(), Path::new("/tmp/cf/config.toml"));
        assert_eq!(p.ledger_file(), Path::new("/tmp/cf/ledger.db"));
        assert!(p.models_cache_file().starts_with("/tmp/cf"));
        assert!(p.log_dir.starts_with("/tmp/cf"));
    }
}
