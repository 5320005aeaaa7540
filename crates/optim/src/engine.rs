//! The machinery every optimizer shares: parameter groups, lazily created per-parameter
//! state, the in-place update and the state dict. An optimizer only supplies its
//! [`Rule`]: its hyperparameters and the elementwise update of one parameter.

use crate::float::Float;
use crate::groups::{assign, GroupSpec};
use crate::{Error, Optimizer, Result};
use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, DType, Device, InplaceOp1, Layout, Storage, Tensor};
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::Mutex;
use wick_tensor::Param;

/// The update rule of one optimizer class; its config struct implements it and
/// [`Optim<R>`] drives it (e.g. [`Adam`](crate::Adam) is `Optim<AdamConfig>`).
///
/// One value holds the hyperparameters of one parameter group.
pub trait Rule: Clone + Send + Sync + 'static {
    /// An entry of the config's `param_groups` (patterns + per-group overrides).
    type Group: GroupSpec;
    /// The PyTorch class name.
    const NAME: &'static str;
    /// Per-parameter scalar state and its initial value (`("step", 0.0)`), saved as
    /// float32 scalars as PyTorch keeps them.
    const SCALARS: &'static [(&'static str, f64)];
    /// Per-parameter buffers of the parameter's shape, by PyTorch state name; a buffer
    /// stays empty until the rule first uses it.
    const BUFFERS: &'static [&'static str];
    /// Checks the hyperparameters with torch.optim's rules and messages.
    fn validate(&self) -> Result<()>;
    /// The `param_groups` entries of the config.
    fn param_groups(&self) -> &[Self::Group];
    /// The hyperparameters of a group: these, overridden by the group's keys.
    fn with_group(&self, group: &Self::Group) -> Self;
    /// The top-level hyperparameters, `param_groups` left out.
    fn without_groups(&self) -> Self;
    /// `lr`.
    fn lr(&self) -> f64;
    /// Sets `lr`.
    fn set_lr(&mut self, lr: f64);
    /// `momentum` or `betas[0]`, for schedulers that cycle it.
    fn momentum(&self) -> Option<f64> {
        None
    }
    /// Sets `momentum` or `betas[0]`.
    fn set_momentum(&mut self, _momentum: f64) {}
    /// One step on one parameter, in place: `scalars` as [`Rule::SCALARS`], `bufs` as
    /// [`Rule::BUFFERS`] (empty ones not created yet), `theta` and `grad` of equal
    /// length.
    fn update<T: Float>(
        &self,
        scalars: &mut [f64],
        theta: &mut [T],
        grad: &[T],
        bufs: &mut [Vec<T>],
    );
    /// The same step on the parameter's own device, as candle ops on whole tensors
    /// (what a GPU runs): `theta` and `grad` in the parameter's dtype, `bufs` as
    /// [`Rule::BUFFERS`] (`None` until first used); returns the new parameter value.
    fn update_tensors(
        &self,
        scalars: &mut [f64],
        theta: &Tensor,
        grad: &Tensor,
        bufs: &mut [Option<Tensor>],
    ) -> candle_core::Result<Tensor>;
}

/// The state of one parameter.
#[derive(Debug, Clone)]
pub(crate) struct ParamState<T> {
    pub(crate) scalars: Vec<f64>,
    pub(crate) bufs: Vec<Vec<T>>,
}

#[derive(Debug, Clone)]
pub(crate) enum State {
    F32(ParamState<f32>),
    F64(ParamState<f64>),
    /// State on the parameter's device, for the tensor update.
    Tensors(TensorState),
}

/// The state of one parameter updated on its device: scalars on the host, buffers as
/// device tensors (`None` until first used).
#[derive(Debug, Clone)]
pub(crate) struct TensorState {
    pub(crate) scalars: Vec<f64>,
    pub(crate) bufs: Vec<Option<Tensor>>,
}

impl TensorState {
    /// Host state moved to `like`'s device and dtype (buffers not created stay `None`).
    fn from_host<T: Float>(s: ParamState<T>, like: &Tensor) -> candle_core::Result<Self> {
        let bufs = s
            .bufs
            .iter()
            .map(|b| {
                if b.is_empty() {
                    Ok(None)
                } else {
                    Tensor::from_slice(b, like.shape(), &Device::Cpu)?
                        .to_dtype(like.dtype())?
                        .to_device(like.device())
                        .map(Some)
                }
            })
            .collect::<candle_core::Result<_>>()?;
        Ok(Self {
            scalars: s.scalars,
            bufs,
        })
    }
}

/// Access to the per-dtype state.
pub(crate) trait HasState: Float {
    fn get(s: &mut State) -> Option<&mut ParamState<Self>>;
    fn wrap(s: ParamState<Self>) -> State;
}
impl HasState for f32 {
    fn get(s: &mut State) -> Option<&mut ParamState<f32>> {
        match s {
            State::F32(p) => Some(p),
            _ => None,
        }
    }
    fn wrap(s: ParamState<f32>) -> State {
        State::F32(s)
    }
}
impl HasState for f64 {
    fn get(s: &mut State) -> Option<&mut ParamState<f64>> {
        match s {
            State::F64(p) => Some(p),
            _ => None,
        }
    }
    fn wrap(s: ParamState<f64>) -> State {
        State::F64(s)
    }
}

struct Group<R> {
    cfg: R,
    params: Vec<usize>,
    initial_lr: Option<f64>,
}

/// A torch.optim optimizer: parameter groups with their hyperparameters `R`, and
/// per-parameter state kept outside autograd, updated in place.
///
/// On the CPU (f32/f64) the update runs fused, one pass over each parameter, writing
/// into the parameter's storage with no temporary tensors, its state in host vectors,
/// the parameters spread over rayon's threads when there are enough elements;
/// on other devices (CUDA) the state lives on the device and the update is
/// [`Rule::update_tensors`], a few candle ops per parameter: nothing is copied to the
/// host. State dicts are the same either way.
pub struct Optim<R: Rule> {
    groups: Vec<Group<R>>,
    params: Vec<Param>,
    state: Vec<Option<State>>,
}

impl<R: Rule> Optim<R> {
    /// Validates `cfg` (and each of its `param_groups` merged over it), splits
    /// `params` into groups by name and creates the optimizer.
    ///
    /// Group 0 is the default group (the parameters no `param_groups` entry selects;
    /// left out when there are none); the entries follow in file order.
    ///
    /// # Errors
    /// An invalid hyperparameter; a pattern selecting nothing; a parameter selected
    /// twice; no parameters.
    pub fn new(cfg: &R, params: Vec<Param>) -> Result<Self> {
        validate_all(cfg)?;
        let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
        let specs = cfg.param_groups();
        let groups = assign(&names, specs)?
            .into_iter()
            .map(|(spec, idx)| Group {
                cfg: match spec {
                    None => cfg.without_groups(),
                    Some(i) => cfg.with_group(&specs[i]),
                },
                params: idx,
                initial_lr: None,
            })
            .collect();
        let n = params.len();
        Ok(Self {
            groups,
            params,
            state: vec![None; n],
        })
    }

    /// The hyperparameters of group `group`.
    pub fn group_config(&self, group: usize) -> &R {
        &self.groups[group].cfg
    }

    /// The names of the parameters of group `group`.
    pub fn group_params(&self, group: usize) -> Vec<&str> {
        self.groups[group]
            .params
            .iter()
            .map(|&i| self.params[i].name.as_str())
            .collect()
    }

    /// The state buffer `buffer` of parameter `name` as a CPU tensor of the
    /// parameter's shape (`None` before it exists).
    pub fn buffer(&self, name: &str, buffer: &str) -> Option<Tensor> {
        let key = format!("state.{name}.{buffer}");
        self.state_dict()
            .ok()?
            .into_iter()
            .find(|(k, _)| *k == key)
            .map(|(_, t)| t)
    }
}

/// Validates a config and each of its groups merged over it.
pub(crate) fn validate_all<R: Rule>(cfg: &R) -> Result<()> {
    cfg.validate()?;
    for (i, g) in cfg.param_groups().iter().enumerate() {
        cfg.with_group(g).validate().map_err(|e| match e {
            Error::Config { message, .. } => {
                Error::config("param_groups", format!("param_groups[{i}]: {message}"))
            }
            e => e,
        })?;
    }
    Ok(())
}

/// Runs a closure on a tensor's CPU storage in place.
struct InPlace<F>(Mutex<Option<F>>);

impl<F> InplaceOp1 for InPlace<F>
where
    F: FnOnce(&mut CpuStorage, &Layout) -> candle_core::Result<()> + Send,
{
    fn name(&self) -> &'static str {
        "optimizer-update"
    }
    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> candle_core::Result<()> {
        let f = self
            .0
            .lock()
            .map_err(|_| candle_core::Error::Msg("optimizer update: poisoned lock".into()))?
            .take();
        match f {
            Some(f) => f(storage, layout),
            None => Err(candle_core::Error::Msg("optimizer update ran twice".into())),
        }
    }
}

/// Below this many parameter elements in all, a step runs on one thread.
const PAR_MIN_ELEMENTS: usize = 1 << 16;

/// The update of one parameter in a step.
struct Job<'a, R> {
    rule: &'a R,
    p: &'a Param,
    grad: &'a Tensor,
    slot: &'a mut Option<State>,
}

impl<R: Rule> Job<'_, R> {
    fn run(self) -> Result<()> {
        let Job {
            rule,
            p,
            grad,
            slot,
        } = self;
        if !wick_tensor::device_path::cpu_kernel(p.var.as_tensor()) {
            return update_on_device(rule, p, grad, slot);
        }
        match p.var.dtype() {
            DType::F32 => update_param::<R, f32>(rule, p, grad, slot),
            DType::F64 => update_param::<R, f64>(rule, p, grad, slot),
            dtype => Err(Error::DType {
                name: p.name.clone(),
                dtype,
            }),
        }
    }
}

fn new_state<R: Rule, T: Float>() -> ParamState<T> {
    ParamState {
        scalars: R::SCALARS.iter().map(|(_, v)| *v).collect(),
        bufs: vec![Vec::new(); R::BUFFERS.len()],
    }
}

fn update_param<R: Rule, T: HasState>(
    rule: &R,
    p: &Param,
    grad: &Tensor,
    slot: &mut Option<State>,
) -> Result<()> {
    let n = p.var.elem_count();
    let st = slot.get_or_insert_with(|| T::wrap(new_state::<R, T>()));
    let st = T::get(st).ok_or_else(|| Error::DType {
        name: p.name.clone(),
        dtype: p.var.dtype(),
    })?;
    let grad = grad.to_dtype(T::DT)?.contiguous()?;
    if grad.elem_count() != n {
        return Err(candle_core::Error::Msg(format!(
            "gradient of `{}` has {} elements, the parameter {n}",
            p.name,
            grad.elem_count()
        ))
        .into());
    }
    let theta = p.var.as_tensor();
    if theta.is_contiguous() {
        let (gs, gl) = grad.storage_and_layout();
        let Storage::Cpu(gcpu) = &*gs else {
            return Err(candle_core::Error::Msg("gradient is not on the CPU".into()).into());
        };
        let g0 = gl.start_offset();
        let g = T::slice(gcpu)
            .and_then(|s| s.get(g0..g0 + n))
            .ok_or_else(|| candle_core::Error::Msg("gradient storage too short".into()))?;
        let op = InPlace(Mutex::new(Some(
            |s: &mut CpuStorage, l: &Layout| -> candle_core::Result<()> {
                let (a, b) = l
                    .contiguous_offsets()
                    .ok_or_else(|| candle_core::Error::Msg("parameter not contiguous".into()))?;
                let th = T::slice_mut(s)
                    .and_then(|s| s.get_mut(a..b))
                    .ok_or_else(|| candle_core::Error::Msg("parameter dtype".into()))?;
                rule.update(&mut st.scalars, th, g, &mut st.bufs);
                Ok(())
            },
        )));
        theta.inplace_op1(&op)?;
    } else {
        let mut th: Vec<T> = theta.flatten_all()?.to_vec1()?;
        let g: Vec<T> = grad.flatten_all()?.to_vec1()?;
        rule.update(&mut st.scalars, &mut th, &g, &mut st.bufs);
        let new = Tensor::from_vec(th, theta.shape(), theta.device())?;
        p.var.set(&new)?;
    }
    Ok(())
}

/// One step of `p` on its own device with [`Rule::update_tensors`]; host state (from a
/// loaded state dict) moves to the device first.
fn update_on_device<R: Rule>(
    rule: &R,
    p: &Param,
    grad: &Tensor,
    slot: &mut Option<State>,
) -> Result<()> {
    let theta = p.var.as_tensor();
    if grad.elem_count() != theta.elem_count() {
        return Err(candle_core::Error::Msg(format!(
            "gradient of `{}` has {} elements, the parameter {}",
            p.name,
            grad.elem_count(),
            theta.elem_count()
        ))
        .into());
    }
    let mut st = match slot.take() {
        None => TensorState {
            scalars: R::SCALARS.iter().map(|(_, v)| *v).collect(),
            bufs: vec![None; R::BUFFERS.len()],
        },
        Some(State::Tensors(s)) => s,
        Some(State::F32(s)) => TensorState::from_host(s, theta)?,
        Some(State::F64(s)) => TensorState::from_host(s, theta)?,
    };
    let grad = grad
        .to_dtype(theta.dtype())?
        .to_device(theta.device())?
        .reshape(theta.shape())?;
    let new = rule.update_tensors(
        &mut st.scalars,
        &theta.detach(),
        &grad.detach(),
        &mut st.bufs,
    );
    // the state is kept even on error, as the host path keeps it
    *slot = Some(State::Tensors(st));
    p.var.set(&new?.detach())?;
    Ok(())
}

fn scalar_tensor(v: f64, dtype: DType) -> Result<Tensor> {
    Ok(Tensor::new(v, &Device::Cpu)?.to_dtype(dtype)?)
}

impl<R: Rule> Optimizer for Optim<R> {
    fn type_name(&self) -> &'static str {
        R::NAME
    }

    fn step(&mut self, grads: &GradStore) -> Result<()> {
        let mut group_of = vec![None; self.params.len()];
        for (gi, g) in self.groups.iter().enumerate() {
            for &i in &g.params {
                group_of[i] = Some(gi);
            }
        }
        let mut jobs: Vec<Job<'_, R>> = Vec::with_capacity(self.params.len());
        for ((p, slot), gi) in self.params.iter().zip(&mut self.state).zip(group_of) {
            let (Some(gi), Some(grad)) = (gi, grads.get(p.var.as_tensor())) else {
                continue;
            };
            jobs.push(Job {
                rule: &self.groups[gi].cfg,
                p,
                grad,
                slot,
            });
        }
        let threads = rayon::current_num_threads();
        let total: usize = jobs.iter().map(|j| j.p.var.elem_count()).sum();
        let on_cpu = jobs
            .iter()
            .all(|j| wick_tensor::device_path::cpu_kernel(j.p.var.as_tensor()));
        if threads < 2 || total < PAR_MIN_ELEMENTS || !on_cpu {
            return jobs.into_iter().try_for_each(Job::run);
        }
        // The parameters, largest first, each into the bin with the fewest elements so
        // far: one bin per thread, run side by side (each parameter is independent).
        jobs.sort_by_key(|j| std::cmp::Reverse(j.p.var.elem_count()));
        let mut bins: Vec<(usize, Vec<Job<'_, R>>)> =
            (0..threads).map(|_| (0, Vec::new())).collect();
        for job in jobs {
            let n = job.p.var.elem_count();
            if let Some(bin) = bins.iter_mut().min_by_key(|b| b.0) {
                bin.0 += n;
                bin.1.push(job);
            }
        }
        bins.into_par_iter()
            .try_for_each(|(_, jobs)| jobs.into_iter().try_for_each(Job::run))
    }

    fn num_groups(&self) -> usize {
        self.groups.len()
    }

    fn lr(&self, group: usize) -> f64 {
        self.groups[group].cfg.lr()
    }

    fn set_lr(&mut self, group: usize, lr: f64) {
        self.groups[group].cfg.set_lr(lr)
    }

    fn initial_lr(&self, group: usize) -> Option<f64> {
        self.groups[group].initial_lr
    }

    fn set_initial_lr(&mut self, group: usize, lr: f64) {
        self.groups[group].initial_lr = Some(lr)
    }

    fn momentum(&self, group: usize) -> Option<f64> {
        self.groups[group].cfg.momentum()
    }

    fn set_momentum(&mut self, group: usize, momentum: f64) {
        self.groups[group].cfg.set_momentum(momentum)
    }

    fn params(&self) -> &[Param] {
        &self.params
    }

    fn state_dict(&self) -> Result<Vec<(String, Tensor)>> {
        let mut out = Vec::new();
        for (p, st) in self.params.iter().zip(&self.state) {
            let Some(st) = st else { continue };
            let shape = p.var.shape();
            macro_rules! put {
                ($s:expr) => {{
                    for ((name, _), v) in R::SCALARS.iter().zip(&$s.scalars) {
                        out.push((
                            format!("state.{}.{name}", p.name),
                            scalar_tensor(*v, DType::F32)?,
                        ));
                    }
                    for (name, b) in R::BUFFERS.iter().zip(&$s.bufs) {
                        if !b.is_empty() {
                            out.push((
                                format!("state.{}.{name}", p.name),
                                Tensor::from_slice(b, shape, &Device::Cpu)?,
                            ));
                        }
                    }
                }};
            }
            match st {
                State::F32(s) => put!(s),
                State::F64(s) => put!(s),
                State::Tensors(s) => {
                    for ((name, _), v) in R::SCALARS.iter().zip(&s.scalars) {
                        out.push((
                            format!("state.{}.{name}", p.name),
                            scalar_tensor(*v, DType::F32)?,
                        ));
                    }
                    for (name, b) in R::BUFFERS.iter().zip(&s.bufs) {
                        if let Some(b) = b {
                            out.push((
                                format!("state.{}.{name}", p.name),
                                b.to_device(&Device::Cpu)?,
                            ));
                        }
                    }
                }
            }
        }
        for (i, g) in self.groups.iter().enumerate() {
            out.push((
                format!("param_groups.{i}.lr"),
                scalar_tensor(g.cfg.lr(), DType::F64)?,
            ));
            if let Some(v) = g.initial_lr {
                out.push((
                    format!("param_groups.{i}.initial_lr"),
                    scalar_tensor(v, DType::F64)?,
                ));
            }
            if let Some(v) = g.cfg.momentum() {
                out.push((
                    format!("param_groups.{i}.momentum"),
                    scalar_tensor(v, DType::F64)?,
                ));
            }
        }
        Ok(out)
    }

    fn load_state_dict(&mut self, state: &[(String, Tensor)]) -> Result<()> {
        let by_name: HashMap<&str, usize> = self
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.as_str(), i))
            .collect();
        let mut new_state: Vec<Option<State>> = vec![None; self.params.len()];
        let mut group_vals: Vec<[Option<f64>; 3]> = vec![[None; 3]; self.groups.len()];
        let bad = |m: String| Error::State(m);
        for (key, t) in state {
            if let Some(rest) = key.strip_prefix("param_groups.") {
                let (idx, field) = rest
                    .split_once('.')
                    .ok_or_else(|| bad(format!("malformed key `{key}`")))?;
                let gi: usize = idx
                    .parse()
                    .map_err(|_| bad(format!("malformed key `{key}`")))?;
                if gi >= self.groups.len() {
                    return Err(bad(format!(
                        "`{key}`: the saved optimizer has more parameter groups than this one ({})",
                        self.groups.len()
                    )));
                }
                let slot = match field {
                    "lr" => 0,
                    "initial_lr" => 1,
                    "momentum" => 2,
                    _ => return Err(bad(format!("unknown group entry `{key}`"))),
                };
                group_vals[gi][slot] = Some(scalar_value(key, t)?);
                continue;
            }
            let rest = key
                .strip_prefix("state.")
                .ok_or_else(|| bad(format!("unknown key `{key}`")))?;
            let (pname, field) = rest
                .rsplit_once('.')
                .ok_or_else(|| bad(format!("malformed key `{key}`")))?;
            let &pi = by_name.get(pname).ok_or_else(|| {
                bad(format!(
                    "`{key}`: no parameter named `{pname}` in this optimizer"
                ))
            })?;
            let p = &self.params[pi];
            let slot = new_state[pi].get_or_insert_with(|| match p.var.dtype() {
                DType::F64 => State::F64(new_state_of::<R, f64>()),
                _ => State::F32(new_state_of::<R, f32>()),
            });
            if let Some(si) = R::SCALARS.iter().position(|(n, _)| *n == field) {
                let v = scalar_value(key, t)?;
                match slot {
                    State::F32(s) => s.scalars[si] = v,
                    State::F64(s) => s.scalars[si] = v,
                    State::Tensors(s) => s.scalars[si] = v,
                }
            } else if let Some(bi) = R::BUFFERS.iter().position(|n| *n == field) {
                if t.dims() != p.var.dims() {
                    return Err(bad(format!(
                        "`{key}` has shape {:?}, but parameter `{pname}` has shape {:?}",
                        t.dims(),
                        p.var.dims()
                    )));
                }
                let flat = t.flatten_all()?;
                match slot {
                    State::F32(s) => s.bufs[bi] = flat.to_dtype(DType::F32)?.to_vec1()?,
                    State::F64(s) => s.bufs[bi] = flat.to_dtype(DType::F64)?.to_vec1()?,
                    State::Tensors(s) => s.bufs[bi] = Some(t.clone()),
                }
            } else {
                return Err(bad(format!(
                    "`{key}`: {} keeps no state `{field}` (it keeps {})",
                    R::NAME,
                    R::SCALARS
                        .iter()
                        .map(|(n, _)| *n)
                        .chain(R::BUFFERS.iter().copied())
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        let saved_groups = group_vals.iter().filter(|v| v[0].is_some()).count();
        if saved_groups != 0 && saved_groups != self.groups.len() {
            return Err(bad(format!(
                "the saved optimizer has {saved_groups} parameter groups, this one {}",
                self.groups.len()
            )));
        }
        for (g, v) in self.groups.iter_mut().zip(group_vals) {
            if let Some(lr) = v[0] {
                g.cfg.set_lr(lr);
            }
            if let Some(lr) = v[1] {
                g.initial_lr = Some(lr);
            }
            if let Some(m) = v[2] {
                g.cfg.set_momentum(m);
            }
        }
        self.state = new_state;
        Ok(())
    }
}

fn new_state_of<R: Rule, T: Float>() -> ParamState<T> {
    new_state::<R, T>()
}

fn scalar_value(key: &str, t: &Tensor) -> Result<f64> {
    if t.elem_count() != 1 {
        return Err(Error::State(format!(
            "`{key}` should be a scalar, it has shape {:?}",
            t.dims()
        )));
    }
    Ok(t.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?[0])
}
