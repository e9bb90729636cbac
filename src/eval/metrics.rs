//! Classification metrics: accuracy, macro-F1, per-class recall and precision, confusion.

use serde::Serialize;

use crate::task::Intent;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassRow {
    pub intent: Intent,
    pub support: usize,
    pub recall: f64,
    pub precision: f64,
    pub f1: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub n: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub classes: Vec<ClassRow>,
    /// `confusion[truth][predicted]`, in `Intent::ALL` order.
    pub confusion: [[usize; 6]; 6],
}

fn idx(i: Intent) -> usize {
    Intent::ALL.iter().position(|x| *x == i).unwrap_or(0)
}

/// Metrics over (truth, predicted) pairs. Macro-F1 averages the classes present in truth.
pub fn report(pairs: &[(Intent, Intent)]) -> Report {
    let mut confusion = [[0usize; 6]; 6];
    for (t, p) in pairs {
        confusion[idx(*t)][idx(*p)] += 1;
    }
    let correct: usize = (0..6).map(|i| confusion[i][i]).sum();
    let mut classes = Vec::new();
    for (i, intent) in Intent::ALL.iter().enumerate() {
        let support: usize = confusion[i].iter().sum();
        let predicted: usize = (0..6).map(|t| confusion[t][i]).sum();
        if support == 0 {
            continue;
        }
        let recall = confusion[i][i] as f64 / support as f64;
        let precision = if predicted == 0 {
            0.0
        } else {
            confusion[i][i] as f64 / predicted as f64
        };
        let f1 = if recall + precision == 0.0 {
            0.0
        } else {
            2.0 * recall * precision / (recall + precision)
        };
        classes.push(ClassRow {
            intent: *intent,
            support,
            recall,
            precision,
            f1,
        });
    }
    let macro_f1 = if classes.is_empty() {
        0.0
    } else {
        classes.iter().map(|c| c.f1).sum::<f64>() / classes.len() as f64
    };
    Report {
        n: pairs.len(),
        accuracy: if pairs.is_empty() {
            0.0
        } else {
            correct as f64 / pairs.len() as f64
        },
        macro_f1,
        classes,
        confusion,
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "n {} · accuracy {:.3} · macro-F1 {:.3}",
            self.n, self.accuracy, self.macro_f1
        )?;
        writeln!(
            f,
            "  {:<10} {:>7} {:>7} {:>9}",
            "class", "n", "recall", "precision"
        )?;
        for c in &self.classes {
            writeln!(
                f,
                "  {:<10} {:>7} {:>7.3} {:>9.3}",
                c.intent.as_str(),
                c.support,
                c.recall,
                c.precision
            )?;
        }
        write!(f, "  confusion (rows truth, columns predicted: ")?;
        writeln!(f, "{})", Intent::ALL.map(|i| i.as_str()).join(" "))?;
        for (i, row) in self.confusion.iter().enumerate() {
            if row.iter().sum::<usize>() == 0 {
                continue;
            }
            writeln!(
                f,
                "  {:<10} {}",
                Intent::ALL[i].as_str(),
                row.iter().map(|v| format!("{v:>6}")).collect::<String>()
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_on_a_known_confusion() {
        use Intent::*;
        let pairs = [
            (Code, Code),
            (Code, Code),
            (Code, Debug),
            (Debug, Debug),
            (Math, Math),
            (Math, General),
        ];
        let r = report(&pairs);
        assert!((r.accuracy - 4.0 / 6.0).abs() < 1e-9);
        let code = r.classes.iter().find(|c| c.intent == Code).unwrap();
        assert!((code.recall - 2.0 / 3.0).abs() < 1e-9);
        assert!((code.precision - 1.0).abs() < 1e-9);
        let debug = r.classes.iter().find(|c| c.intent == Debug).unwrap();
        assert!((debug.precision - 0.5).abs() < 1e-9);
        assert_eq!(r.confusion[0][1], 1);
        assert_eq!(r.classes.len(), 3);
    }
}
