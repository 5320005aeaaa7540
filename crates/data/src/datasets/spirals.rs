use super::moons::{hundred, yes};
use super::synthetic::{check_n_samples, check_noise, finish, linspace, normal, rng};
use super::tensor_dataset::TensorDataset;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// Arguments of `make_spirals(n_samples=100, n_classes=2, noise=0.2, shuffle=True,
/// random_state=None)`: the interleaved spirals of CS231n's classic example
/// (scikit-learn has no spiral generator; the argument names follow its others).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MakeSpiralsConfig {
    /// Total number of points, split evenly over the arms (default 100).
    #[serde(default = "hundred")]
    pub n_samples: usize,
    /// Number of arms, one class each (default 2).
    #[serde(default = "two")]
    pub n_classes: usize,
    /// Standard deviation of the Gaussian noise on each point's angle, in radians
    /// (default 0.2).
    #[serde(default = "point_two")]
    pub noise: f64,
    /// Shuffle the points (default `true`).
    #[serde(default = "yes")]
    pub shuffle: bool,
    /// Seed of the generator (default: derived from the run seed and the split).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub random_state: Option<u64>,
}

fn two() -> usize {
    2
}
fn point_two() -> f64 {
    0.2
}

impl Default for MakeSpiralsConfig {
    fn default() -> Self {
        Self {
            n_samples: 100,
            n_classes: 2,
            noise: 0.2,
            shuffle: true,
            random_state: None,
        }
    }
}

impl MakeSpiralsConfig {
    /// Arm `k` holds `m` points `(r sin θ, r cos θ)` with `r = linspace(0, 1, m)` and
    /// `θ = linspace(4k, 4(k+1), m) + noise·N(0, 1)`; samples are `[2]`.
    pub fn build(&self, seed: u64, split: u64) -> Result<TensorDataset> {
        check_n_samples(self.n_samples)?;
        check_noise(Some(self.noise))?;
        if self.n_classes == 0 {
            return Err(Error::config("n_classes", "n_classes must be positive"));
        }
        let mut rng = rng(self.random_state, seed, split);
        let k = self.n_classes;
        let mut points = Vec::with_capacity(self.n_samples);
        let mut labels = Vec::with_capacity(self.n_samples);
        for c in 0..k {
            let m = self.n_samples / k + usize::from(c < self.n_samples % k);
            let r = linspace(0.0, 1.0, m, true);
            let t = linspace(4.0 * c as f64, 4.0 * (c + 1) as f64, m, true);
            for (r, t) in r.into_iter().zip(t) {
                let t = t + self.noise * normal(&mut rng);
                points.push(vec![r * t.sin(), r * t.cos()]);
                labels.push(c as u32);
            }
        }
        finish(points, labels, k, self.shuffle, None, &mut rng)
    }
}

#[cfg(test)]
mod tests {
    use super::super::synthetic::stats::{mean_std, points};
    use super::*;

    #[test]
    fn arms_and_angle_noise() {
        let cfg = MakeSpiralsConfig {
            n_samples: 3000,
            n_classes: 3,
            noise: 0.0,
            ..Default::default()
        };
        let p = points(&cfg.build(0, 0).unwrap());
        assert_eq!(p.iter().filter(|(_, c)| *c == 2).count(), 1000);
        assert!(p
            .iter()
            .all(|(x, _)| f64::from(x[0]).hypot(f64::from(x[1])) <= 1.0 + 1e-6));
        // noise: the angle of each point deviates from the noiseless one by N(0, 0.2²);
        // compare the same points (no shuffle) with and without noise
        let base = MakeSpiralsConfig {
            n_samples: 4000,
            shuffle: false,
            noise: 0.0,
            ..Default::default()
        };
        let noisy = MakeSpiralsConfig {
            noise: 0.2,
            ..base.clone()
        };
        let a = points(&base.build(0, 0).unwrap());
        let b = points(&noisy.build(0, 0).unwrap());
        let d: Vec<f64> = a
            .iter()
            .zip(&b)
            .filter(|((x, _), _)| f64::from(x[0]).hypot(f64::from(x[1])) > 0.2)
            .map(|((x, _), (y, _))| {
                let ta = f64::from(x[0]).atan2(f64::from(x[1]));
                let tb = f64::from(y[0]).atan2(f64::from(y[1]));
                let mut d = tb - ta;
                while d > std::f64::consts::PI {
                    d -= std::f64::consts::TAU;
                }
                while d < -std::f64::consts::PI {
                    d += std::f64::consts::TAU;
                }
                d
            })
            .collect();
        let (m, s) = mean_std(&d);
        assert!(m.abs() < 0.02 && (s - 0.2).abs() < 0.02, "{m} {s}");
    }
}
