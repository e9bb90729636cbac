//! The replay's catalog file: which models take part, and the prior quality the learner
//! starts from for each (for every task, or per task), as the live catalog's strengths do
//! for the live router. Without a file every model starts from 0.5. No IO beyond reading
//! the file it is given.
//!
//! ```toml
//! [[models]]
//! id = "gpt-4-1106-preview"
//! prior = 0.85            # optional, every task
//! [models.tasks]          # optional, per task (wins over `prior`)
//! mbpp = 0.70
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

/// The prior of a model the file says nothing about.
pub const UNIFORM: f64 = 0.5;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    models: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: String,
    prior: Option<f64>,
    #[serde(default)]
    tasks: BTreeMap<String, f64>,
}

/// Prior quality per (model, task).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Priors {
    by_model: BTreeMap<String, (Option<f64>, BTreeMap<String, f64>)>,
}

impl Priors {
    /// Every model at [`UNIFORM`].
    pub fn uniform() -> Self {
        Self::default()
    }

    /// Read a catalog file: the priors and the model ids in file order. Errors name the
    /// file (and the line, for syntax and unknown keys).
    pub fn load(path: &Path) -> Result<(Self, Vec<String>), String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<(Self, Vec<String>), String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string().trim().to_string())?;
        let mut priors = Self::default();
        let mut ids = Vec::new();
        for m in file.models {
            let check = |what: String, v: f64| {
                if (0.0..=1.0).contains(&v) {
                    Ok(())
                } else {
                    Err(format!("{what} is {v}; priors are between 0 and 1"))
                }
            };
            if let Some(p) = m.prior {
                check(format!("the prior of {}", m.id), p)?;
            }
            for (task, p) in &m.tasks {
                check(format!("the prior of {} for {task}", m.id), *p)?;
            }
            if priors.by_model.contains_key(&m.id) {
                return Err(format!("{} is listed twice", m.id));
            }
            ids.push(m.id.clone());
            priors.by_model.insert(m.id, (m.prior, m.tasks));
        }
        if ids.is_empty() {
            return Err("no [[models]] listed".into());
        }
        Ok((priors, ids))
    }

    /// The prior quality of `model` on `task`.
    pub fn prior(&self, model: &str, task: &str) -> f64 {
        self.by_model.get(model).map_or(UNIFORM, |(all, tasks)| {
            tasks.get(task).copied().or(*all).unwrap_or(UNIFORM)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_task_priors_win_over_the_models_and_the_rest_are_uniform() {
        let (p, ids) = Priors::parse(
            "[[models]]\nid = \"a\"\nprior = 0.8\n[models.tasks]\ncode = 0.6\n\n[[models]]\nid = \"b\"\n",
        )
        .unwrap();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(p.prior("a", "code"), 0.6);
        assert_eq!(p.prior("a", "math"), 0.8);
        assert_eq!(p.prior("b", "code"), UNIFORM);
        assert_eq!(p.prior("c", "code"), UNIFORM);
    }

    #[test]
    fn bad_files_say_what_and_where() {
        let e = Priors::parse("[[models]]\nid = \"a\"\npriors = 0.8\n").unwrap_err();
        assert!(e.contains("line 3") && e.contains("priors"), "{e}");
        let e = Priors::parse("[[models]]\nid = \"a\"\nprior = 1.5\n").unwrap_err();
        assert!(e.contains("prior of a is 1.5"), "{e}");
        let e = Priors::parse("[[models]]\nid = \"a\"\n[[models]]\nid = \"a\"\n").unwrap_err();
        assert!(e.contains("listed twice"), "{e}");
        assert!(Priors::parse("").is_err());
    }
}
