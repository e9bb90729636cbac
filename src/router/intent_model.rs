//! The learned intent classifier: a linear softmax model over hashed prompt features,
//! trained offline by `codeforge eval train` and shipped as `assets/intent_model.bin`
//! (weights quantised to i8 per class). Prediction is a sparse dot product per class.

use std::sync::OnceLock;

use super::features::BUCKETS;
use crate::task::Intent;

/// Bumped whenever the features change: a model trained on other features is refused.
const MAGIC: &[u8; 6] = b"CFIM03";
const CLASSES: usize = 6;

static EMBEDDED: &[u8] = include_bytes!("../../assets/intent_model.bin");

/// Quantised weights: `weights[b * CLASSES + c] as f32 * scale[c]` (bucket-major in
/// memory, so one feature reads one cache line; class-major in the file).
#[derive(Debug, Clone, PartialEq)]
pub struct IntentModel {
    scale: [f32; CLASSES],
    bias: [f32; CLASSES],
    weights: Vec<i8>,
}

impl IntentModel {
    /// The model shipped in the binary (`None` if the asset is missing or damaged).
    pub fn embedded() -> Option<&'static IntentModel> {
        static MODEL: OnceLock<Option<IntentModel>> = OnceLock::new();
        MODEL
            .get_or_init(|| Self::from_bytes(EMBEDDED).ok())
            .as_ref()
    }

    /// Quantise float weights (`w[class][bucket]`).
    pub fn from_float(w: &[Vec<f32>], bias: &[f32]) -> Self {
        let mut scale = [0f32; CLASSES];
        let mut b = [0f32; CLASSES];
        let mut weights = vec![0i8; CLASSES * BUCKETS];
        for c in 0..CLASSES {
            let max = w[c].iter().fold(0f32, |m, x| m.max(x.abs())).max(1e-9);
            scale[c] = max / 127.0;
            for (i, x) in w[c].iter().enumerate() {
                weights[i * CLASSES + c] = (x / scale[c]).round().clamp(-127.0, 127.0) as i8;
            }
            b[c] = bias[c];
        }
        Self {
            scale,
            bias: b,
            weights,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + CLASSES * 8 + self.weights.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(BUCKETS as u32).to_le_bytes());
        for c in 0..CLASSES {
            out.extend_from_slice(&self.scale[c].to_le_bytes());
            out.extend_from_slice(&self.bias[c].to_le_bytes());
        }
        for c in 0..CLASSES {
            out.extend((0..BUCKETS).map(|b| self.weights[b * CLASSES + c] as u8));
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let header = MAGIC.len() + 4 + CLASSES * 8;
        if bytes.len() != header + CLASSES * BUCKETS || !bytes.starts_with(MAGIC) {
            return Err("not a CodeForge intent model".into());
        }
        let buckets = u32::from_le_bytes([bytes[6], bytes[7], bytes[8], bytes[9]]) as usize;
        if buckets != BUCKETS {
            return Err(format!(
                "model has {buckets} buckets, this build uses {BUCKETS}"
            ));
        }
        let f = |i: usize| f32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let mut scale = [0f32; CLASSES];
        let mut bias = [0f32; CLASSES];
        for c in 0..CLASSES {
            scale[c] = f(10 + c * 8);
            bias[c] = f(14 + c * 8);
        }
        Ok(Self {
            scale,
            bias,
            weights: {
                // Class-major in the file, bucket-major in memory.
                let mut w = vec![0i8; BUCKETS * CLASSES];
                for (c, row) in bytes[header..].chunks_exact(BUCKETS).enumerate() {
                    for (b, v) in row.iter().enumerate() {
                        w[b * CLASSES + c] = *v as i8;
                    }
                }
                w
            },
        })
    }

    /// Class probabilities in `Intent::ALL` order.
    pub fn predict(&self, feats: &[(u32, f32)]) -> [f32; CLASSES] {
        self.predict_with_temperature(feats, 1.0)
    }

    /// Class probabilities with the logits divided by `t` (calibration: `t` > 1 softens).
    pub fn predict_with_temperature(&self, feats: &[(u32, f32)], t: f32) -> [f32; CLASSES] {
        let mut s = [0f32; CLASSES];
        for (b, v) in feats {
            let at = *b as usize * CLASSES;
            if let Some(row) = self.weights.get(at..at + CLASSES) {
                for (sc, w) in s.iter_mut().zip(row) {
                    *sc += f32::from(*w) * v;
                }
            }
        }
        let mut z = self.bias;
        let t = if t > 0.0 { t } else { 1.0 };
        for c in 0..CLASSES {
            z[c] = (z[c] + s[c] * self.scale[c]) / t;
        }
        softmax(z)
    }
}

pub fn softmax(z: [f32; CLASSES]) -> [f32; CLASSES] {
    let max = z.iter().fold(f32::MIN, |m, x| m.max(*x));
    let mut e = z.map(|x| (x - max).exp());
    let sum: f32 = e.iter().sum();
    for x in &mut e {
        *x /= sum;
    }
    e
}

/// One training example: its class is an index into `Intent::ALL` for the intent model
/// (simple, medium, high for the complexity model).
pub struct Example {
    pub features: Vec<(u32, f32)>,
    pub class: usize,
    pub weight: f32,
}

impl Example {
    pub fn intent(features: Vec<(u32, f32)>, intent: Intent, weight: f32) -> Self {
        Self {
            features,
            class: Intent::ALL.iter().position(|x| *x == intent).unwrap_or(0),
            weight,
        }
    }
}

/// Multinomial logistic regression by SGD with L2 (lazy-free: small data, dense update of
/// touched buckets only). Returns float weights and biases.
pub fn train(examples: &[Example], epochs: usize, lr: f32, l2: f32) -> (Vec<Vec<f32>>, Vec<f32>) {
    let mut w = vec![vec![0f32; BUCKETS]; CLASSES];
    let mut b = vec![0f32; CLASSES];
    let mut order: Vec<usize> = (0..examples.len()).collect();
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
    for epoch in 0..epochs {
        // Deterministic shuffle (xorshift).
        for i in (1..order.len()).rev() {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            order.swap(i, (rng % (i as u64 + 1)) as usize);
        }
        let rate = lr / (1.0 + epoch as f32 * 0.5);
        for &i in &order {
            let ex = &examples[i];
            let mut z = [0f32; CLASSES];
            for c in 0..CLASSES {
                z[c] = b[c]
                    + ex.features
                        .iter()
                        .map(|(k, v)| w[c][*k as usize] * v)
                        .sum::<f32>();
            }
            let p = softmax(z);
            let target = ex.class;
            for c in 0..CLASSES {
                let g = (p[c] - if c == target { 1.0 } else { 0.0 }) * ex.weight;
                b[c] -= rate * g;
                for (k, v) in &ex.features {
                    let wk = &mut w[c][*k as usize];
                    *wk -= rate * (g * v + l2 * *wk);
                }
            }
        }
    }
    (w, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::features::features;

    #[test]
    fn trains_quantises_and_round_trips() {
        let data = [
            ("write a function that sorts a list", Intent::Code),
            ("implement a binary tree in rust", Intent::Code),
            ("prove that sqrt 2 is irrational", Intent::Math),
            ("solve the integral of x squared", Intent::Math),
            ("my test panics with index out of bounds", Intent::Debug),
            ("why does this crash with a segfault", Intent::Debug),
            ("explain how closures capture variables", Intent::Explain),
            ("what is a monad, explain simply", Intent::Explain),
            (
                "design a scalable chat system architecture",
                Intent::Reasoning,
            ),
            (
                "trade-offs between kafka and rabbitmq for our system",
                Intent::Reasoning,
            ),
            ("write a poem about autumn", Intent::General),
            ("what's the capital of peru", Intent::General),
        ];
        let ex: Vec<Example> = data
            .iter()
            .map(|(t, i)| Example::intent(features(t), *i, 1.0))
            .collect();
        let (w, b) = train(&ex, 30, 0.5, 1e-6);
        let m = IntentModel::from_float(&w, &b);
        let back = IntentModel::from_bytes(&m.to_bytes()).unwrap();
        assert_eq!(m, back);
        for (t, i) in data {
            let p = back.predict(&features(t));
            let best = (0..CLASSES).max_by(|a, b| p[*a].total_cmp(&p[*b])).unwrap();
            assert_eq!(Intent::ALL[best], i, "{t}");
        }
        assert!(IntentModel::from_bytes(b"junk").is_err());
    }
}
