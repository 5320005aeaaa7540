//! Fusions are planned once when a container is built, from what each layer says it is
//! and what it absorbs; a fused chain gives the values and gradients of its layers run
//! one by one; a user's layer fuses through the same two methods as a built-in one.

use candle_core::{DType, Device, Tensor, Var};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use wick_nn::{BuildCtx, Epilogue, FusionPlan, Layer, LayerConfig, Result, Sequential};
use wick_tensor::testing::assert_close;
use wick_tensor::SeedRng;

fn build(toml_layers: &str, input: &[usize]) -> Sequential {
    #[derive(serde::Deserialize)]
    struct M {
        layers: Vec<LayerConfig>,
    }
    let mut m: M = toml::from_str(toml_layers).unwrap();
    let mut rng = SeedRng::new(7);
    let mut ctx = BuildCtx {
        device: &Device::Cpu,
        dtype: DType::F32,
        rng: &mut rng,
    };
    Sequential::new(input, &mut m.layers, &mut ctx).unwrap()
}

const VGG_BLOCK: &str = r#"
layers = [
  { type = "Conv2d", out_channels = 8, kernel_size = 3, padding = 1, bias = false },
  { type = "BatchNorm2d" },
  { type = "ReLU" },
  { type = "Conv2d", out_channels = 8, kernel_size = 3, padding = 1 },
  { type = "ReLU" },
  { type = "MaxPool2d", kernel_size = 2 },
  { type = "Dropout2d", p = 0.1 },
  { type = "Conv2d", out_channels = 4, kernel_size = 3 },
  { type = "MaxPool2d", kernel_size = 2 },
  { type = "Flatten" },
  { type = "Linear", out_features = 16 },
  { type = "ReLU" },
  { type = "ReLU" },
  { type = "Linear", out_features = 3 },
]
"#;

#[test]
fn the_plan_is_made_when_the_model_is_built() {
    let net = build(VGG_BLOCK, &[2, 12, 12]);
    // Conv2d (no bias) + BatchNorm2d + ReLU; Conv2d + ReLU + MaxPool2d; the Conv2d
    // before a MaxPool2d alone (no ReLU between); Linear + the first ReLU, the second
    // ReLU on its own
    assert_eq!(net.fused(), vec![0..3, 3..6, 10..12]);
}

/// Every layer run by its own `forward`, in order: the unfused reference.
fn one_by_one(net: &Sequential, x: &Tensor, train: bool) -> Tensor {
    let mut y = x.clone();
    for l in net.layers() {
        y = l.forward(&y, train).unwrap();
    }
    y
}

#[test]
fn a_fused_chain_has_the_values_and_gradients_of_its_layers() {
    let net = build(VGG_BLOCK, &[2, 12, 12]);
    let x =
        Var::from_tensor(&Tensor::randn(0f32, 1., (3, 2, 12, 12), &Device::Cpu).unwrap()).unwrap();
    // eval mode: Dropout2d is the identity, so both runs see the same network
    let fused = net.forward(x.as_tensor(), false).unwrap();
    let plain = one_by_one(&net, x.as_tensor(), false);
    assert_close("output", &fused, &plain, 1e-6);
    let w = Tensor::randn(0f32, 1., fused.dims(), &Device::Cpu).unwrap();
    let grads = |y: &Tensor| (y * &w).unwrap().sum_all().unwrap().backward().unwrap();
    let (gf, gp) = (grads(&fused), grads(&plain));
    assert_close(
        "input grad",
        gf.get(x.as_tensor()).unwrap(),
        gp.get(x.as_tensor()).unwrap(),
        1e-5,
    );
    for p in net.parameters() {
        let (a, b) = (gf.get(p.tensor()), gp.get(p.tensor()));
        assert_close(&p.name, a.unwrap(), b.unwrap(), 1e-5);
    }
}

#[test]
fn a_residual_block_ends_in_one_add_relu() {
    let net = build(
        r#"
layers = [
  { type = "Conv2d", out_channels = 4, kernel_size = 3, padding = 1, bias = false },
  { type = "BatchNorm2d" },
  { type = "ReLU" },
  { type = "Residual", layers = [
      { type = "Conv2d", out_channels = 4, kernel_size = 3, padding = 1 },
      { type = "BatchNorm2d" },
      { type = "ReLU" },
      { type = "Conv2d", out_channels = 4, kernel_size = 3, padding = 1 },
    ] },
  { type = "ReLU" },
  { type = "Flatten" },
  { type = "Linear", out_features = 2 },
]
"#,
        &[1, 6, 6],
    );
    // Conv2d (no bias) + BatchNorm2d + ReLU; inside the block the Conv2d has a bias, so
    // BatchNorm2d + ReLU; the block + its ReLU
    assert_eq!(net.fused(), vec![0..3, 3..5]);
    let x =
        Var::from_tensor(&Tensor::randn(0f32, 1., (2, 1, 6, 6), &Device::Cpu).unwrap()).unwrap();
    let fused = net.forward(x.as_tensor(), true).unwrap();
    let plain = one_by_one(&net, x.as_tensor(), true);
    assert_close("output", &fused, &plain, 1e-6);
    let (gf, gp) = (
        fused.sum_all().unwrap().backward().unwrap(),
        plain.sum_all().unwrap().backward().unwrap(),
    );
    for p in net.parameters() {
        assert_close(
            &p.name,
            gf.get(p.tensor()).unwrap(),
            gp.get(p.tensor()).unwrap(),
            1e-5,
        );
    }
}

/// A user's layer that scales its input and fuses a following `ReLU`, counting the
/// fused calls.
struct Scale {
    by: f64,
    fused_calls: Arc<AtomicUsize>,
}

impl Layer for Scale {
    fn type_name(&self) -> &'static str {
        "Scale"
    }
    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        Ok((x * self.by)?)
    }
    fn fuses(&self, next: &[Epilogue]) -> usize {
        usize::from(next.first() == Some(&Epilogue::Relu))
    }
    fn forward_fused(&self, x: &Tensor, _train: bool, epilogue: &[Epilogue]) -> Result<Tensor> {
        assert_eq!(epilogue, [Epilogue::Relu]);
        self.fused_calls.fetch_add(1, Ordering::Relaxed);
        Ok((x * self.by)?.relu()?)
    }
    fn describe(&self) -> String {
        format!("Scale({})", self.by)
    }
}

/// A user's `ReLU`-like layer that offers itself as an epilogue.
struct MyRelu;

impl Layer for MyRelu {
    fn type_name(&self) -> &'static str {
        "MyRelu"
    }
    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        Ok(x.relu()?)
    }
    fn epilogue(&self) -> Option<Epilogue> {
        Some(Epilogue::Relu)
    }
    fn describe(&self) -> String {
        "MyRelu()".into()
    }
}

#[test]
fn a_user_layer_fuses_as_a_built_in_one() {
    let calls = [Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0))];
    let scale = |by: f64, i: usize| -> Box<dyn Layer> {
        Box::new(Scale {
            by,
            fused_calls: calls[i].clone(),
        })
    };
    let layers: Vec<Box<dyn Layer>> = vec![scale(-2.0, 0), Box::new(MyRelu), scale(3.0, 1)];
    let plan = FusionPlan::new(&layers);
    assert_eq!(plan.fused(), vec![0..2]);
    let x = Tensor::new(&[-1f32, 0.5, 2.0], &Device::Cpu).unwrap();
    let y = plan.forward(&layers, &x, true).unwrap();
    assert_eq!(y.to_vec1::<f32>().unwrap(), [6.0, 0.0, 0.0]);
    let n = |i: usize| calls[i].load(Ordering::Relaxed);
    assert_eq!((n(0), n(1)), (1, 0));
}

#[test]
fn a_layer_without_a_fused_kernel_runs_alone() {
    // Tanh offers nothing to fuse and is no epilogue: nothing is fused around it
    let net = build(
        r#"layers = [{ type = "Linear", out_features = 4 }, { type = "Tanh" }, { type = "ReLU" }]"#,
        &[3],
    );
    assert!(net.fused().is_empty());
}

const CONV_BN: &str = r#"
layers = [
  { type = "Conv2d", out_channels = 64, kernel_size = 3, padding = 1, bias = false },
  { type = "BatchNorm2d" },
  { type = "ReLU" },
  { type = "Conv2d", out_channels = 64, kernel_size = 3, stride = 2, padding = 1, bias = false },
  { type = "BatchNorm2d", momentum = "None" },
  { type = "Conv2d", out_channels = 8, kernel_size = 1, bias = false },
  { type = "BatchNorm2d", affine = false },
  { type = "ReLU" },
  { type = "MaxPool2d", kernel_size = 2 },
  { type = "Conv2d", out_channels = 8, kernel_size = 1, bias = false },
  { type = "BatchNorm2d" },
  { type = "MaxPool2d", kernel_size = 2, stride = 1, dilation = 2 },
]
"#;

fn bits(t: &Tensor) -> Vec<u32> {
    let v = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    v.iter().map(|x| x.to_bits()).collect()
}

/// One step of `net` on `x` (fused, or each layer by its own `forward`) with the
/// upstream gradient `up` (drawn on the first call): the output, the gradients of the
/// input and of every parameter, and every buffer after it.
fn step(
    net: &Sequential,
    x: &Var,
    (train, fused): (bool, bool),
    up: &mut Option<Tensor>,
) -> Vec<(String, Vec<u32>)> {
    let y = if fused {
        net.forward(x.as_tensor(), train).unwrap()
    } else {
        one_by_one(net, x.as_tensor(), train)
    };
    let up = up.get_or_insert_with(|| Tensor::randn(0f32, 1., y.dims(), &Device::Cpu).unwrap());
    let g = (&y * &*up).unwrap().sum_all().unwrap().backward().unwrap();
    let mut out = vec![("out".into(), bits(&y))];
    out.push(("dx".into(), bits(g.get(x.as_tensor()).unwrap())));
    for p in net.parameters() {
        out.push((format!("grad {}", p.name), bits(g.get(p.tensor()).unwrap())));
    }
    for (name, b) in net.buffers() {
        if b.dtype() == DType::F32 {
            out.push((name, bits(&b)));
        }
    }
    out
}

/// `Conv2d → BatchNorm2d (→ ReLU) (→ MaxPool2d)` fused is the layers one by one, bit
/// for bit, in
/// train mode (batch statistics, running statistics updated, γ and β learned), frozen
/// (running statistics in train mode) and eval mode, on the lanes kernels' sizes.
#[test]
fn conv_batchnorm_relu_is_its_layers_one_by_one() {
    let (fused, plain) = (build(CONV_BN, &[16, 14, 14]), build(CONV_BN, &[16, 14, 14]));
    // the dilated pooling keeps no argmax: run after the fused op
    assert_eq!(fused.fused(), vec![0..3, 3..5, 5..9, 9..12]);
    let x =
        Var::from_tensor(&Tensor::randn(0f32, 1., (3, 16, 14, 14), &Device::Cpu).unwrap()).unwrap();
    for (k, (train, frozen)) in [(true, false), (true, false), (true, true), (false, false)]
        .into_iter()
        .enumerate()
    {
        for net in [&fused, &plain] {
            net.layers().iter().for_each(|l| l.freeze_batchnorm(frozen));
        }
        let mut up = None;
        let a = step(&fused, &x, (train, true), &mut up);
        let b = step(&plain, &x, (train, false), &mut up);
        for ((what, a), (_, b)) in a.iter().zip(&b) {
            assert!(a == b, "step {k} (train {train}, frozen {frozen}): {what}");
        }
    }
}

/// A user's convolution (no bias, 1×1) that runs a following `BatchNorm2d` and `ReLU`
/// as its epilogue through the same handle as `Conv2d`.
struct MyPointwise {
    weight: Var,
}

impl Layer for MyPointwise {
    fn type_name(&self) -> &'static str {
        "MyPointwise"
    }
    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        let g = wick_nn::ops::ConvGeom::symmetric((1, 1), (0, 0), (1, 1), 1);
        Ok(wick_nn::ops::conv2d(x, self.weight.as_tensor(), None, g)?)
    }
    fn fuses(&self, next: &[Epilogue]) -> usize {
        match next {
            [Epilogue::BatchNorm(_), Epilogue::Relu, ..] => 2,
            _ => 0,
        }
    }
    fn forward_fused(&self, x: &Tensor, train: bool, epilogue: &[Epilogue]) -> Result<Tensor> {
        let [Epilogue::BatchNorm(bn), rest @ ..] = epilogue else {
            panic!("planned: BatchNorm2d, ReLU; got {epilogue:?}");
        };
        let g = wick_nn::ops::ConvGeom::symmetric((1, 1), (0, 0), (1, 1), 1);
        bn.after_conv2d(x, self.weight.as_tensor(), g, train, rest)
    }
    fn parameters(&self) -> Vec<wick_tensor::Param> {
        Vec::new()
    }
    fn describe(&self) -> String {
        "MyPointwise()".into()
    }
}

/// One built-in layer from its TOML table, for a per-sample input `input`.
fn layer(toml_table: &str, input: &[usize]) -> Box<dyn Layer> {
    let mut cfg: LayerConfig = toml::from_str::<toml::Table>(toml_table)
        .unwrap()
        .try_into()
        .unwrap();
    cfg.infer(input).unwrap();
    let mut rng = SeedRng::new(7);
    let mut ctx = BuildCtx {
        device: &Device::Cpu,
        dtype: DType::F32,
        rng: &mut rng,
    };
    cfg.build(&mut ctx).unwrap()
}

#[test]
fn a_user_convolution_fuses_a_batchnorm() {
    let w =
        Var::from_tensor(&Tensor::randn(0f32, 1., (4, 3, 1, 1), &Device::Cpu).unwrap()).unwrap();
    let layers: Vec<Box<dyn Layer>> = vec![
        Box::new(MyPointwise { weight: w.clone() }),
        layer(r#"type = "BatchNorm2d""#, &[4, 5, 5]),
        layer(r#"type = "ReLU""#, &[4, 5, 5]),
    ];
    let plan = FusionPlan::new(&layers);
    assert_eq!(plan.fused(), vec![0..3]);
    let x = Tensor::randn(0f32, 1., (2, 3, 5, 5), &Device::Cpu).unwrap();
    let fused = plan.forward(&layers, &x, true).unwrap();
    let before = bits(&layers[1].buffers()[0].1);
    let plain = layers
        .iter()
        .try_fold(x, |y, l| l.forward(&y, true))
        .unwrap();
    assert_eq!(bits(&fused), bits(&plain));
    let (gf, gp) = (
        fused.sum_all().unwrap().backward().unwrap(),
        plain.sum_all().unwrap().backward().unwrap(),
    );
    assert_eq!(
        bits(gf.get(w.as_tensor()).unwrap()),
        bits(gp.get(w.as_tensor()).unwrap())
    );
    // the fused step updated the layer's running mean (from zeros)
    assert!(before.iter().any(|&b| b != 0));
}
