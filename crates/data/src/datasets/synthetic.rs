//! Shared pieces of the scikit-learn-style point generators.

use super::tensor_dataset::{Labels, TensorDataset};
use crate::{Error, Result};
use rand::seq::SliceRandom;
use wick_tensor::SeedRng;

/// The generator for a synthetic set: `random_state` when given, else the run seed's
/// `("dataset", [split])` stream (so train and test sets differ).
pub(crate) fn rng(random_state: Option<u64>, seed: u64, split: u64) -> SeedRng {
    match random_state {
        Some(s) => SeedRng::new(s),
        None => SeedRng::stream(seed, "dataset", &[split]),
    }
}

/// A standard normal sample (Box–Muller).
pub(crate) fn normal(rng: &mut SeedRng) -> f64 {
    let u1 = rng.uniform(f64::MIN_POSITIVE, 1.0);
    let u2 = rng.uniform(0.0, 1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// `np.linspace(start, stop, n, endpoint)`.
pub(crate) fn linspace(start: f64, stop: f64, n: usize, endpoint: bool) -> Vec<f64> {
    let div = if endpoint { n.saturating_sub(1) } else { n };
    if div == 0 {
        return vec![start; n];
    }
    let step = (stop - start) / div as f64;
    (0..n).map(|i| start + step * i as f64).collect()
}

pub(crate) fn check_n_samples(n: usize) -> Result<()> {
    if n == 0 {
        return Err(Error::config(
            "n_samples",
            "n_samples should be a positive integer value, but got n_samples=0",
        ));
    }
    Ok(())
}

pub(crate) fn check_noise(noise: Option<f64>) -> Result<()> {
    match noise {
        Some(n) if !(n.is_finite() && n >= 0.0) => Err(Error::config(
            "noise",
            format!("noise = {n}: expected a finite standard deviation >= 0"),
        )),
        _ => Ok(()),
    }
}

/// Points `[N, d]` and their classes, optionally shuffled and with Gaussian noise of
/// standard deviation `noise` added to every coordinate, as a dataset with classes
/// named `"0"`, `"1"`, ….
pub(crate) fn finish(
    points: Vec<Vec<f64>>,
    labels: Vec<u32>,
    n_classes: usize,
    shuffle: bool,
    noise: Option<f64>,
    rng: &mut SeedRng,
) -> Result<TensorDataset> {
    let mut order: Vec<usize> = (0..points.len()).collect();
    if shuffle {
        order.shuffle(rng.inner());
    }
    let d = points.first().map_or(0, Vec::len);
    let mut x = Vec::with_capacity(points.len() * d);
    let mut y = Vec::with_capacity(points.len());
    for &i in &order {
        for &v in &points[i] {
            let e = noise.map_or(0.0, |s| s * normal(rng));
            x.push((v + e) as f32);
        }
        y.push(labels[i]);
    }
    let classes = (0..n_classes).map(|c| c.to_string()).collect();
    Ok(TensorDataset::new(x, vec![d], Labels::Class(y))?.with_classes(classes))
}

#[cfg(test)]
pub(crate) mod stats {
    use crate::{Dataset, Input, Target};

    /// Every point and its class.
    pub fn points(ds: &dyn Dataset) -> Vec<(Vec<f32>, u32)> {
        (0..ds.len())
            .map(|i| {
                let s = ds.get(i).unwrap();
                let Input::Array(a) = s.input else { panic!() };
                let Target::Class(c) = s.target else { panic!() };
                (a.data, c)
            })
            .collect()
    }

    pub fn mean_std(v: &[f64]) -> (f64, f64) {
        let n = v.len() as f64;
        let m = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n;
        (m, var.sqrt())
    }

    #[test]
    fn normal_has_unit_variance() {
        let mut r = wick_tensor::SeedRng::new(3);
        let v: Vec<f64> = (0..20000).map(|_| super::normal(&mut r)).collect();
        let (m, s) = mean_std(&v);
        assert!(m.abs() < 0.03 && (s - 1.0).abs() < 0.03, "{m} {s}");
        assert_eq!(super::linspace(0.0, 1.0, 3, true), vec![0.0, 0.5, 1.0]);
        assert_eq!(super::linspace(0.0, 1.0, 2, false), vec![0.0, 0.5]);
    }
}
