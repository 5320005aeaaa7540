//! Validation of an experiment, section by section: everything that can be checked
//! without reading data (names, arguments, shapes, and that data, model and loss fit
//! together), each problem a [`Diagnostic`] at its key. Fills inferred arguments.

use crate::diagnostic::{suggest, Diagnostic};
use crate::keypath::KeyPath;
use crate::schema::{Experiment, SplitConfig};
use crate::task::Task;
use wick_data::datasets::DataInfo;
use wick_data::transforms::Kind;
use wick_nn::{NodeConfig, Sequential, SequentialConfig};

fn root() -> KeyPath {
    KeyPath::root()
}

impl Experiment {
    /// Checks everything that can be checked without data: names, arguments, shapes,
    /// and that data, model and loss fit together. Fills inferred arguments.
    pub(crate) fn validate(&mut self) -> Result<(), Diagnostic> {
        self.validate_name()?;
        self.validate_model_input()?;
        let train = self.validate_data()?;
        self.validate_model_and_loss(&train)?;
        self.validate_training()?;
        self.validate_predict()?;
        self.validate_metrics()?;
        self.validate_monitors()?;
        self.validate_distributed()
    }

    /// `[distributed]`: positive bucket size and timeout.
    fn validate_distributed(&self) -> Result<(), Diagnostic> {
        let Some(d) = &self.distributed else {
            return Ok(());
        };
        let at = root().key("distributed");
        if d.bucket_cap_mb.is_nan() || d.bucket_cap_mb <= 0.0 {
            return Err(Diagnostic::value(
                at.key("bucket_cap_mb"),
                "bucket_cap_mb must be a positive number of megabytes",
            )
            .with_label("not positive")
            .with_help("PyTorch's DistributedDataParallel uses bucket_cap_mb = 25"));
        }
        if d.timeout == 0 {
            return Err(
                Diagnostic::value(at.key("timeout"), "timeout must be at least 1 second")
                    .with_label("zero"),
            );
        }
        Ok(())
    }

    /// `name`: a folder name.
    fn validate_name(&self) -> Result<(), Diagnostic> {
        let name_ok = !self.name.is_empty()
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && !self.name.starts_with('.');
        if !name_ok {
            return Err(Diagnostic::value(
                root().key("name"),
                format!("invalid name {:?}", self.name),
            )
            .with_label("used as a folder name")
            .with_help("use letters, digits, `-`, `_` and `.`"));
        }
        Ok(())
    }

    /// Where input `i`'s shape is written: `model.input` or `model.inputs.<name>`.
    fn input_path(&self, i: usize) -> KeyPath {
        let model = root().key("model");
        match self.model.inputs.as_slice() {
            [(n, _)] if n == "input" => model.key("input"),
            inputs => model.key("inputs").key(inputs[i].0.as_str()),
        }
    }

    /// Where the model's (first) output is made: the producing layer's output argument
    /// (`out_features`), else its `type` (or `op`).
    fn output_path(&self) -> KeyPath {
        let layers = &self.model.layers;
        let named = |i: usize, name: &str| match &layers[i].name {
            Some(n) => n == name,
            None => i.to_string() == name,
        };
        let index = match self.model.outputs.first() {
            Some(name) => (0..layers.len()).find(|&i| named(i, name)),
            None => layers.len().checked_sub(1),
        };
        let Some(i) = index else {
            return root().key("model").key("outputs");
        };
        let field = match layers[i].layer() {
            Some(l) => l.output_argument().unwrap_or("type"),
            None => "op",
        };
        root().key("model").key("layers").index(i).key(field)
    }

    /// The inputs' shapes and a model with layers.
    fn validate_model_input(&self) -> Result<(), Diagnostic> {
        let model_path = root().key("model");
        for (i, (_, shape)) in self.model.inputs.iter().enumerate() {
            if shape.is_empty() || shape.contains(&0) {
                return Err(Diagnostic::value(
                    self.input_path(i),
                    format!(
                        "an input shape must be a non-empty list of positive sizes, got {shape:?}"
                    ),
                )
                .with_label("per-sample input shape, e.g. [1, 28, 28]"));
            }
        }
        if self.model.layers.is_empty() {
            return Err(
                Diagnostic::value(model_path.key("layers"), "the model has no layers")
                    .with_label("empty"),
            );
        }
        Ok(())
    }

    /// Both splits: loader arguments, dataset facts, transforms, and the samples'
    /// shape against `model.input`. Returns the training dataset's facts.
    fn validate_data(&self) -> Result<DataInfo, Diagnostic> {
        let train = self.validate_split(&self.data.train, "train")?;
        if let Some(test) = &self.data.test {
            self.validate_split(test, "test")?;
        }
        Ok(train)
    }

    /// One split (see [`Experiment::validate_data`]).
    fn validate_split(&self, split: &SplitConfig, key: &str) -> Result<DataInfo, Diagnostic> {
        let path = root().key("data").key(key);
        split
            .loader
            .sampler_config()
            .map_err(|e| data_error(e, &path))?;
        let ds = self.split_dataset(split);
        let ds_path = if split.dataset.is_some() {
            path.key("dataset")
        } else {
            root().key("data").key("dataset")
        };
        let info = ds.info(self.seed).map_err(|e| data_error(e, &ds_path))?;
        let single = info.inputs.len() == 1;
        for (name, input) in info.per_input() {
            let (shapes, is_image) = transformed_shapes(split, &input, &path)?;
            if is_image {
                return Err(Diagnostic::value(
                    path.key("transforms"),
                    "the samples are images; the transforms need a `ToTensor`",
                )
                .with_label("no ToTensor")
                .with_help("add { type = \"ToTensor\" }"));
            }
            let fixed = shapes.first().filter(|s| shapes.iter().all(|o| o == *s));
            if let Some(shape) = fixed {
                let data = (ds.type_name(), key, (!single).then_some(name.as_str()));
                self.check_input_shape(data, shape)?;
            } else if input.sizes_vary && !split.transforms.is_empty() {
                check_resized(split, ds.type_name(), &path)?;
            }
        }
        Ok(info)
    }

    /// The shape of a data input after the transforms against the model input that
    /// takes it (the only one, or the one of its name): `data` is the dataset's class,
    /// the split and the input's name where the dataset has several.
    fn check_input_shape(
        &self,
        data: (&str, &str, Option<&str>),
        shape: &[usize],
    ) -> Result<(), Diagnostic> {
        let (ds, key, input) = data;
        let inputs = &self.model.inputs;
        let i = match input {
            None if inputs.len() == 1 => 0,
            None => return Ok(()),
            Some(n) => match inputs.iter().position(|(m, _)| m == n) {
                Some(i) => i,
                None => return Ok(()),
            },
        };
        let (name, want) = &inputs[i];
        // a stack of crops per sample (FiveCrop, TenCrop) feeds a single input
        if shape == want || (inputs.len() == 1 && shape.get(1..) == Some(&want[..])) {
            return Ok(());
        }
        let single = inputs.len() == 1;
        let what = if single {
            "model.input".into()
        } else {
            format!("input `{name}`")
        };
        let of = input.map(|n| format!(" (input `{n}`)")).unwrap_or_default();
        Err(Diagnostic::value(
            self.input_path(i),
            format!("{what} is {want:?}, but {ds} {key} samples{of} after the transforms have shape {shape:?}"),
        )
        .with_label("does not match the data")
        .with_help(format!("set {} = {shape:?}", if single { "input" } else { name })))
    }

    /// The loss's task against the data's targets, shape inference through the model,
    /// and the model's output against the loss and the classes.
    fn validate_model_and_loss(&mut self, train: &DataInfo) -> Result<(), Diagnostic> {
        let model_path = root().key("model");
        let (classes, class_targets) = (train.classes, train.class_targets);
        let task = Task::of(&self.loss).map_err(|e| {
            Diagnostic::value(root().key("loss").key("type"), e.0).with_label("not trainable here")
        })?;
        if task == Task::Classify && class_targets == Some(false) {
            return Err(Diagnostic::value(
                root().key("loss").key("type"),
                format!(
                    "{} needs class indices, but {} gives float targets",
                    self.loss.type_name(),
                    self.data.dataset.type_name()
                ),
            )
            .with_label("needs class labels")
            .with_help("use a regression loss such as MSELoss, or class labels (label_dtype = \"class\" for a CSV)"));
        }

        let inferred = Sequential::infer_graph(
            &self.model.inputs,
            &mut self.model.layers,
            &self.model.outputs,
        )
        .map_err(|e| nn_error(e, &model_path, &self.model.layers))?;
        self.validate_wiring(train, task, inferred.outputs.len())?;

        // model output → loss
        let out = inferred.outputs[0].clone();
        if self.loss.reduction() == wick_losses::Reduction::None {
            return Err(Diagnostic::value(
                root().key("loss").key("reduction"),
                "training needs a scalar loss, but reduction = \"none\" gives one per sample",
            )
            .with_label("not a scalar")
            .with_help("use \"mean\" (the default) or \"sum\""));
        }
        if let (Task::Classify, Some(classes)) = (task, classes) {
            if out.len() != 1 || out[0] != classes {
                return Err(Diagnostic::value(
                    self.output_path(),
                    format!(
                        "{} needs one score per class: {} has {classes} classes, \
                         but the model outputs per-sample shape {out:?}",
                        self.loss.type_name(),
                        self.data.dataset.type_name()
                    ),
                )
                .with_label("model output")
                .with_help(format!("end the model with a layer producing [{classes}]")));
            }
            self.loss.check_classes(classes).map_err(|e| match e {
                wick_losses::Error::Config { field, message } => {
                    Diagnostic::value(root().key("loss").key(field), message)
                        .with_label("one entry per class")
                }
                e => Diagnostic::value(root().key("loss"), e.to_string()),
            })?;
        }
        self.loss.build().map_err(|e| match e {
            wick_losses::Error::Config { field, message } => invalid("loss", field, message),
            e => Diagnostic::value(root().key("loss"), e.to_string()),
        })?;
        Ok(())
    }

    /// The dataset's inputs against the model's (by name, where either has several),
    /// and the model's outputs and the data's targets against what the loss takes.
    fn validate_wiring(
        &self,
        train: &DataInfo,
        task: Task,
        outputs: usize,
    ) -> Result<(), Diagnostic> {
        let model_path = root().key("model");
        let names = self.model.input_names();
        let several = names.len() > 1 || train.inputs.len() > 1;
        if let Some(missing) = names.iter().find(|n| several && !train.inputs.contains(n)) {
            let at = if self.model.inputs.len() == 1 {
                self.input_path(0)
            } else {
                model_path.key("inputs")
            };
            return Err(Diagnostic::value(
                at,
                format!(
                    "the model takes an input `{missing}`, but {} gives {}",
                    self.data.dataset.type_name(),
                    train.inputs.join(", ")
                ),
            )
            .with_label("not an input of the data")
            .with_help(format!(
                "name the model's inputs as the data's: inputs = {{ {} }}",
                train
                    .inputs
                    .iter()
                    .map(|n| format!("{n} = [...]"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let wanted = match task {
            Task::Compare { inputs, .. } => inputs,
            _ => 1,
        };
        if outputs != wanted {
            let at = if self.model.outputs.is_empty() {
                self.output_path()
            } else {
                model_path.key("outputs")
            };
            return Err(Diagnostic::value(
                at,
                format!(
                    "{} takes {wanted} input(s), but the model gives {outputs} output(s)",
                    self.loss.type_name()
                ),
            )
            .with_label("model outputs")
            .with_help("list the nodes the loss takes in [model] outputs = [...]"));
        }
        if let (Task::Compare { signs: true, .. }, Some(true)) = (task, train.class_targets) {
            return Err(Diagnostic::value(
                root().key("loss").key("type"),
                format!(
                    "{} takes a 1 or -1 per pair of samples, but {} gives class indices",
                    self.loss.type_name(),
                    self.data.dataset.type_name()
                ),
            )
            .with_label("needs pairs")
            .with_help(
                "draw pairs: dataset = { type = \"Pairs\", dataset = { type = \"MNIST\" } }",
            ));
        }
        Ok(())
    }

    /// Optimizer, epochs, scheduler and gradient clipping.
    fn validate_training(&self) -> Result<(), Diagnostic> {
        self.optimizer.validate().map_err(|e| match e {
            wick_optim::Error::Config { field, message } => invalid("optimizer", field, message),
            e => Diagnostic::value(root().key("optimizer"), e.to_string()),
        })?;
        if self.train.epochs == 0 {
            return Err(Diagnostic::value(
                root().key("train").key("epochs"),
                "epochs must be at least 1",
            )
            .with_label("zero"));
        }
        if let Some(sc) = &self.scheduler {
            sc.validate().map_err(|e| match e {
                wick_optim::Error::Config { field, message } => {
                    invalid("scheduler", field, message)
                }
                e => Diagnostic::value(root().key("scheduler"), e.to_string()),
            })?;
        }
        let tp = root().key("train");
        for (cfg, key) in [
            (
                self.train.clip_grad_norm.as_ref().map(|c| c.validate()),
                "clip_grad_norm",
            ),
            (
                self.train.clip_grad_value.as_ref().map(|c| c.validate()),
                "clip_grad_value",
            ),
        ] {
            if let Some(Err(e)) = cfg {
                return Err(match e {
                    wick_optim::Error::Config { field, message } => {
                        Diagnostic::value(tp.key(key).key(field), message)
                            .with_label("invalid value")
                    }
                    e => Diagnostic::value(tp.key(key), e.to_string()),
                });
            }
        }
        Ok(())
    }

    /// `[predict] inputs` shaped like the model's input.
    fn validate_predict(&self) -> Result<(), Diagnostic> {
        if let Some(p) = &self.predict {
            let path = root().key("predict").key("inputs");
            let flat = p
                .inputs
                .flatten("inputs")
                .map_err(|e| data_error(e, &path))?;
            if flat.shape.get(1..) != Some(self.model.input()) {
                return Err(Diagnostic::value(
                    path,
                    format!(
                        "inputs have shape {:?}, but the model takes [N, {}]",
                        flat.shape,
                        self.model
                            .input()
                            .iter()
                            .map(|d| d.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
                .with_label("wrong shape")
                .with_help("give a list of inputs, each shaped like model.input"));
            }
        }
        Ok(())
    }

    /// Every `monitor` names a metric the experiment measures; `log_interval` ≥ 1.
    fn validate_monitors(&self) -> Result<(), Diagnostic> {
        let tp = root().key("train");
        let metrics = self.epoch_metrics();
        let plateau = self
            .scheduler
            .as_ref()
            .and_then(|s| s.monitor().map(str::to_string));
        let watched = [
            (plateau.as_ref(), root().key("scheduler").key("monitor")),
            (
                self.train.checkpoint.monitor.as_ref(),
                tp.key("checkpoint").key("monitor"),
            ),
            (
                self.train.early_stopping.as_ref().map(|e| &e.monitor),
                tp.key("early_stopping").key("monitor"),
            ),
        ];
        for (m, path) in watched {
            let Some(m) = m else { continue };
            if !metrics.contains(m) {
                let d = Diagnostic::value(path, format!("unknown metric `{m}`"))
                    .with_label("not measured by this experiment");
                return Err(match suggest(m, metrics.iter().map(String::as_str)) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help(format!("this experiment measures {}", metrics.join(", "))),
                });
            }
        }
        if let Some(c) = &self.train.converged {
            if c.eps.is_nan() || c.eps <= 0.0 {
                return Err(Diagnostic::value(
                    tp.key("converged").key("eps"),
                    "eps must be a positive number",
                )
                .with_label("not positive")
                .with_help("the course stops when the loss changes by less than `eps = 1e-5`"));
            }
        }
        if self.train.limit_train_batches == Some(0) {
            return Err(Diagnostic::value(
                root().key("train").key("limit_train_batches"),
                "limit_train_batches must be at least 1",
            )
            .with_label("zero"));
        }
        if self.train.log_interval == 0 {
            return Err(Diagnostic::value(
                root().key("train").key("log_interval"),
                "log_interval must be at least 1",
            )
            .with_label("zero"));
        }
        Ok(())
    }

    /// `[metrics] collection`: each builds, and each has a column of its own.
    fn validate_metrics(&self) -> Result<(), Diagnostic> {
        let path = root().key("metrics").key("collection");
        let mut seen: Vec<String> = Vec::new();
        for (i, m) in self.metrics.collection.iter().enumerate() {
            if let Err(e) = m.build() {
                return Err(
                    Diagnostic::value(path.index(i), e.to_string()).with_label("invalid metric")
                );
            }
            let col = crate::metric::column(m);
            if seen.contains(&col) {
                return Err(Diagnostic::value(
                    path.index(i),
                    format!("a second metric named `{col}`"),
                )
                .with_label("measured twice"));
            }
            seen.push(col);
        }
        Ok(())
    }
}

/// The per-sample shapes after a split's transforms (two probes for images of unknown
/// size), and whether the samples are still images.
fn transformed_shapes(
    split: &SplitConfig,
    info: &DataInfo,
    path: &KeyPath,
) -> Result<(Vec<Vec<usize>>, bool), Diagnostic> {
    // Images of unknown size: probe two sizes; a pipeline with a fixed-size
    // Resize/crop gives the same shape for both.
    let probes: Vec<Vec<usize>> = match &info.shape {
        Some(s) => vec![s.clone()],
        None if info.images => vec![vec![3, 333, 500], vec![3, 517, 401]],
        None => vec![],
    };
    let mut shapes: Vec<Vec<usize>> = probes;
    let mut is_image = info.images;
    for (i, t) in split.transforms.iter().enumerate() {
        let tp = path.key("transforms").index(i);
        let built = t.build().map_err(|e| data_error(e, &tp))?;
        let kind = if is_image { Kind::Image } else { Kind::Tensor };
        is_image = built
            .output_kind(kind)
            .map_err(|e| kind_error(e, t.type_name(), kind, info.images, &tp))?
            == Kind::Image;
        let mut next = Vec::new();
        for s in &shapes {
            match built.output_shape(s) {
                Ok(o) => next.push(o),
                // unknown sizes: the shape is checked when the data is read
                Err(_) if info.shape.is_none() => {}
                Err(e) => return Err(data_error(e, &tp)),
            }
        }
        shapes = next;
    }
    Ok((shapes, is_image))
}

/// A transform given what it cannot take: an image where it needs a tensor (before
/// `ToTensor`), or a tensor where it needs an image.
fn kind_error(
    e: wick_data::Error,
    ty: &str,
    given: Kind,
    images: bool,
    path: &KeyPath,
) -> Diagnostic {
    let d = Diagnostic::value(path.key("type"), e.to_string());
    match (given, images) {
        (Kind::Image, _) => d
            .with_label("before ToTensor")
            .with_help(format!("put {{ type = \"ToTensor\" }} before {ty}")),
        (Kind::Tensor, true) => d
            .with_label(format!("second {ty}"))
            .with_help(format!("keep one {ty}")),
        (Kind::Tensor, false) => d
            .with_label("not an image")
            .with_help(format!("this dataset gives tensors: remove {ty}")),
    }
}

/// Images of many sizes must be brought to one before batching.
fn check_resized(split: &SplitConfig, ds: &str, path: &KeyPath) -> Result<(), Diagnostic> {
    let batched = split.loader.batch_size > 1;
    let resized = split
        .transforms
        .iter()
        .any(|t| t.build().is_ok_and(|b| b.resizes()));
    if batched && !resized {
        return Err(Diagnostic::value(
            path.key("transforms"),
            format!(
                "{ds} images come in many sizes, but batches need one: no transform here makes them the same size"
            ),
        )
        .with_label("no Resize or crop")
        .with_help("add { type = \"Resize\", size = [224, 224] } or a Resize and a CenterCrop"));
    }
    Ok(())
}

/// An invalid argument `section.field`.
fn invalid(section: &str, field: &str, message: String) -> Diagnostic {
    Diagnostic::value(root().key(section).key(field), message).with_label("invalid value")
}

/// A shape-inference error at its place: the node's key (its argument, `from`, …), or
/// the container's (`inputs`, `outputs`); through nested Sequentials into their nodes,
/// and through the uses of a block into the block's definition.
fn nn_error(e: wick_nn::Error, container: &KeyPath, nodes: &[NodeConfig]) -> Diagnostic {
    let wick_nn::Error::Layer { index, ty, source } = e else {
        return match e {
            wick_nn::Error::Config {
                field: Some(f),
                message,
            } => Diagnostic::value(container.key(f), message).with_label("does not fit"),
            other => Diagnostic::value(container.clone(), other.to_string()),
        };
    };
    let lp = container.key("layers").index(index);
    let node = nodes.get(index);
    let nested = node
        .and_then(NodeConfig::layer)
        .and_then(|l| l.downcast_ref::<SequentialConfig>());
    if let (Some(seq), wick_nn::Error::Layer { .. }) = (nested, &*source) {
        return match &seq.class {
            Some(block) => nn_error(
                *source,
                &root().key("blocks").key(block.as_str()),
                &seq.layers,
            )
            .with_help(format!("in the use of {block} at {lp}")),
            None => nn_error(*source, &lp, &seq.layers),
        };
    }
    let op = node.is_some_and(NodeConfig::is_op);
    // an op's messages name it already (`add` cannot broadcast …)
    let head = if op { String::new() } else { format!("{ty}: ") };
    match *source {
        wick_nn::Error::Config {
            field: Some(f),
            message,
        } => Diagnostic::value(lp.key(f), format!("{head}{message}")).with_label("does not fit"),
        other => Diagnostic::value(
            lp.key(if op { "op" } else { "type" }),
            format!("{head}{other}"),
        )
        .with_label("does not fit its input"),
    }
}

fn data_error(e: wick_data::Error, path: &KeyPath) -> Diagnostic {
    match e {
        wick_data::Error::Config { field, message } => {
            Diagnostic::value(path.key(field), message).with_label("invalid value")
        }
        other => Diagnostic::value(path.clone(), other.to_string()).with_label("invalid"),
    }
}
