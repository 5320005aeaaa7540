//! How a container's nodes connect: their names, which values each takes, the order
//! they run in, and what the container returns — resolved once from the configs, before
//! any shape is inferred, with every mistake (an unknown or duplicate name, a cycle, an
//! input or a node nobody uses) an error at its node.
//!
//! A chain (each node taking the one before, one input, the last node the output) is
//! the common case: `nn.Sequential`.

use crate::node::NodeConfig;
use crate::{Error, Result};
use std::collections::HashMap;

/// A value inside a container: one of its inputs, or the output of a kept node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Src {
    /// The container's input `i`.
    Input(usize),
    /// The output of kept node `i` (an index into [`Wiring::kept`]).
    Node(usize),
}

/// The resolved connections of a container (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wiring {
    /// The file positions of the nodes that are there (`when` true), in file order.
    pub kept: Vec<usize>,
    /// The name of each kept node (its `name`, else its file position).
    pub names: Vec<String>,
    /// The inputs of each kept node, in `from` order.
    pub sources: Vec<Vec<Src>>,
    /// The kept nodes in the order they run (inputs before their users; file order
    /// where free).
    pub order: Vec<usize>,
    /// What the container returns.
    pub outputs: Vec<Src>,
    /// For a `share` node, the kept node whose module it calls.
    pub shares: Vec<Option<usize>>,
    /// Whether this is a plain chain (see the module doc).
    pub chain: bool,
}

/// An error at the node at file position `index`.
fn at(index: usize, node: &NodeConfig, e: Error) -> Error {
    Error::Layer {
        index,
        ty: node.type_name(),
        source: Box::new(e),
    }
}

fn check_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("a name cannot be empty".into());
    }
    if name.contains('.') {
        return Err(format!(
            "`{name}`: a module name cannot contain `.` (it separates the state_dict's parts)"
        ));
    }
    Ok(())
}

/// The name of each node: its `name`, else its index among the nodes kept, as
/// `nn.Sequential(*layers)` numbers a list built with `if …: layers.append(…)`; an
/// unnamed node left out has a name no `name` can take (`.3`, its file position).
pub fn node_names(nodes: &[NodeConfig]) -> Vec<String> {
    let mut kept = 0;
    nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let name = match (&n.name, n.when) {
                (Some(name), _) => name.clone(),
                (None, true) => kept.to_string(),
                (None, false) => format!(".{i}"),
            };
            kept += usize::from(n.when);
            name
        })
        .collect()
}

/// The names in scope: inputs and nodes (every node, kept or not), with what each is.
struct Scope<'a> {
    inputs: &'a [String],
    /// name → file position of the node.
    nodes: HashMap<String, usize>,
    /// Each node's name, by file position.
    names: Vec<String>,
}

impl<'a> Scope<'a> {
    fn new(inputs: &'a [String], nodes: &[NodeConfig]) -> Result<Self> {
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, input) in inputs.iter().enumerate() {
            check_name(input).map_err(|m| Error::field("inputs", m))?;
            if inputs[..i].contains(input) {
                return Err(Error::field(
                    "inputs",
                    format!("the input `{input}` is listed twice"),
                ));
            }
        }
        let names = node_names(nodes);
        for (i, n) in nodes.iter().enumerate() {
            let name = names[i].clone();
            if n.name.is_some() {
                check_name(&name).map_err(|m| at(i, n, Error::field("name", m)))?;
            }
            if let Some(prev) = seen.get(&name) {
                return Err(at(
                    i,
                    n,
                    Error::field(
                        "name",
                        format!("the name `{name}` is taken by layer {prev}; names are unique"),
                    ),
                ));
            }
            if inputs.contains(&name) {
                return Err(at(
                    i,
                    n,
                    Error::field("name", format!("`{name}` is the name of an input")),
                ));
            }
            seen.insert(name, i);
        }
        Ok(Self {
            inputs,
            nodes: seen,
            names,
        })
    }

    /// The names of the node at `i`'s inputs: its `from`, else the node before it (or
    /// the container's only input).
    fn inputs_of(&self, i: usize, nodes: &[NodeConfig]) -> Result<Vec<String>> {
        let n = &nodes[i];
        if !n.from.is_empty() {
            return Ok(n.from.clone());
        }
        if i > 0 {
            return Ok(vec![self.names[i - 1].clone()]);
        }
        match self.inputs {
            [one] => Ok(vec![one.clone()]),
            many => Err(at(
                i,
                n,
                Error::field(
                    "from",
                    format!(
                        "the first layer must say which input it takes (`from`): there are {} ({})",
                        many.len(),
                        many.join(", ")
                    ),
                ),
            )),
        }
    }

    fn unknown(&self, name: &str) -> String {
        let known: Vec<&str> = self
            .inputs
            .iter()
            .map(String::as_str)
            .chain(self.nodes.keys().map(String::as_str))
            .collect();
        match wick_tensor::catalog::suggest(name, known.iter().copied()) {
            Some(s) => format!("no input or layer is named `{name}`; did you mean `{s}`?"),
            None => format!("no input or layer is named `{name}`"),
        }
    }
}

impl Wiring {
    /// Resolves `nodes` with inputs named `inputs`, returning `outputs` (the last node
    /// when empty).
    pub fn new(inputs: &[String], nodes: &[NodeConfig], outputs: &[String]) -> Result<Self> {
        if nodes.is_empty() && inputs.len() != 1 {
            return Err(Error::field(
                "layers",
                "a container without layers has one input",
            ));
        }
        let scope = Scope::new(inputs, nodes)?;
        let froms = (0..nodes.len())
            .map(|i| scope.inputs_of(i, nodes))
            .collect::<Result<Vec<_>>>()?;
        let kept: Vec<usize> = (0..nodes.len()).filter(|&i| nodes[i].when).collect();
        let position: HashMap<usize, usize> =
            kept.iter().enumerate().map(|(k, &i)| (i, k)).collect();
        let resolve = Resolver {
            scope: &scope,
            nodes,
            froms: &froms,
            position: &position,
        };
        let sources = kept
            .iter()
            .map(|&i| {
                froms[i]
                    .iter()
                    .map(|f| resolve.name(f, i))
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        let outputs = resolve.outputs(outputs)?;
        let shares = kept
            .iter()
            .map(|&i| resolve.share(i))
            .collect::<Result<Vec<_>>>()?;
        let names: Vec<String> = kept.iter().map(|&i| scope.names[i].clone()).collect();
        let order = topological(&kept, &sources, &shares, nodes, &names)?;
        let wiring = Self {
            names,
            chain: is_chain(inputs, &sources, &outputs) && shares.iter().all(Option::is_none),
            kept,
            sources,
            order,
            outputs,
            shares,
        };
        wiring.check_used(inputs, nodes)?;
        Ok(wiring)
    }

    /// How many times each kept node's output is taken (by nodes and as an output).
    pub fn uses(&self) -> Vec<usize> {
        let mut uses = vec![0; self.kept.len()];
        for s in self.sources.iter().flatten().chain(&self.outputs) {
            if let Src::Node(k) = s {
                uses[*k] += 1;
            }
        }
        uses
    }

    fn check_used(&self, inputs: &[String], nodes: &[NodeConfig]) -> Result<()> {
        let all = || self.sources.iter().flatten().chain(&self.outputs);
        for (i, input) in inputs.iter().enumerate() {
            if !all().any(|s| *s == Src::Input(i)) {
                return Err(Error::field(
                    "inputs",
                    format!("the input `{input}` is not used by any layer"),
                ));
            }
        }
        for (k, uses) in self.uses().into_iter().enumerate() {
            if uses == 0 {
                let i = self.kept[k];
                return Err(at(
                    i,
                    &nodes[i],
                    Error::field(
                        "name",
                        format!(
                            "the output of `{}` is not used: no layer takes it (`from`) and it \
                             is not an output",
                            self.names[k]
                        ),
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn is_chain(inputs: &[String], sources: &[Vec<Src>], outputs: &[Src]) -> bool {
    let linked = sources.iter().enumerate().all(|(k, s)| match k {
        0 => s == &[Src::Input(0)],
        _ => s == &[Src::Node(k - 1)],
    });
    let last = match sources.len() {
        0 => Src::Input(0),
        n => Src::Node(n - 1),
    };
    inputs.len() == 1 && linked && outputs == [last]
}

/// Turns names into values, seeing through nodes left out (`when = false`).
struct Resolver<'a> {
    scope: &'a Scope<'a>,
    nodes: &'a [NodeConfig],
    froms: &'a [Vec<String>],
    position: &'a HashMap<usize, usize>,
}

impl Resolver<'_> {
    /// The value named `name`, taken by the node at file position `user`.
    fn name(&self, name: &str, user: usize) -> Result<Src> {
        let mut name = name.to_string();
        // a left-out node stands for its one input; a chain of them ends (names are
        // finite and each step moves to an earlier `from` or loops, which is caught)
        for _ in 0..=self.nodes.len() {
            if let Some(i) = self.scope.inputs.iter().position(|n| *n == name) {
                return Ok(Src::Input(i));
            }
            let Some(&i) = self.scope.nodes.get(&name) else {
                return Err(at(
                    user,
                    &self.nodes[user],
                    Error::field("from", self.scope.unknown(&name)),
                ));
            };
            if let Some(&k) = self.position.get(&i) {
                return Ok(Src::Node(k));
            }
            match self.froms[i].as_slice() {
                [one] => name = one.clone(),
                _ => {
                    return Err(at(
                        i,
                        &self.nodes[i],
                        Error::field(
                            "when",
                            "a layer left out (`when = false`) stands for its input, so it \
                             must take exactly one",
                        ),
                    ))
                }
            }
        }
        Err(at(
            user,
            &self.nodes[user],
            Error::field(
                "from",
                format!("`{name}` refers to itself through left-out layers"),
            ),
        ))
    }

    /// For a `share` node at file position `i`, the kept node whose module it calls:
    /// a layer that is there (not an op, not another `share`).
    fn share(&self, i: usize) -> Result<Option<usize>> {
        let Some(target) = self.nodes[i].shares() else {
            return Ok(None);
        };
        let fail = |m: String| Err(at(i, &self.nodes[i], Error::field("share", m)));
        let Some(&t) = self.scope.nodes.get(target) else {
            return fail(self.scope.unknown(target));
        };
        let Some(&k) = self.position.get(&t) else {
            return fail(format!(
                "`{target}` is left out (`when = false`): there is no module to share"
            ));
        };
        if self.nodes[t].layer().is_none() {
            return fail(format!(
                "`{target}` is not a layer: only a module's parameters can be shared"
            ));
        }
        Ok(Some(k))
    }

    fn outputs(&self, outputs: &[String]) -> Result<Vec<Src>> {
        if outputs.is_empty() {
            return Ok(vec![match self.nodes.len() {
                0 => Src::Input(0),
                n => self.output(&self.scope.names[n - 1])?,
            }]);
        }
        outputs.iter().map(|o| self.output(o)).collect()
    }

    fn output(&self, name: &str) -> Result<Src> {
        let user = self.nodes.len().saturating_sub(1);
        self.name(name, user).map_err(|e| match e {
            Error::Layer { source, .. } => match *source {
                Error::Config { message, .. } => Error::field("outputs", message),
                other => other,
            },
            other => other,
        })
    }
}

/// Kahn's algorithm, taking the ready node that comes first in the file; a cycle is an
/// error at its first node, naming the loop.
/// A `share` node runs after the node it shares (whose config it is inferred from).
fn topological(
    kept: &[usize],
    sources: &[Vec<Src>],
    shares: &[Option<usize>],
    nodes: &[NodeConfig],
    names: &[String],
) -> Result<Vec<usize>> {
    let n = kept.len();
    let after: Vec<Vec<usize>> = sources
        .iter()
        .zip(shares)
        .map(|(s, share)| {
            s.iter()
                .filter_map(|s| match s {
                    Src::Node(j) => Some(*j),
                    Src::Input(_) => None,
                })
                .chain(*share)
                .collect()
        })
        .collect();
    let mut waiting: Vec<usize> = after.iter().map(Vec::len).collect();
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (k, a) in after.iter().enumerate() {
        for &j in a {
            users[j].push(k);
        }
    }
    let mut ready: std::collections::BTreeSet<usize> =
        (0..n).filter(|&k| waiting[k] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(k) = ready.pop_first() {
        order.push(k);
        for &u in &users[k] {
            waiting[u] -= 1;
            if waiting[u] == 0 {
                ready.insert(u);
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    let stuck = (0..n).find(|k| waiting[*k] > 0).unwrap_or(0);
    let cycle = find_cycle(stuck, &after, &waiting);
    let path: Vec<&str> = cycle.iter().map(|&k| names[k].as_str()).collect();
    let first = cycle.iter().copied().min().unwrap_or(stuck);
    Err(at(
        kept[first],
        &nodes[kept[first]],
        Error::field(
            "from",
            format!("the layers form a cycle: {}", path.join(" → ")),
        ),
    ))
}

/// A cycle among the nodes still waiting, found by walking what each waits for back
/// from `start`.
fn find_cycle(start: usize, after: &[Vec<usize>], waiting: &[usize]) -> Vec<usize> {
    let mut path = vec![start];
    let mut k = start;
    loop {
        let next = after[k].iter().copied().find(|&j| waiting[j] > 0);
        let Some(j) = next else {
            return path;
        };
        if let Some(p) = path.iter().position(|&x| x == j) {
            let mut cycle: Vec<usize> = path[p..].to_vec();
            cycle.reverse();
            cycle.push(cycle[0]);
            return cycle;
        }
        path.push(j);
        k = j;
    }
}

/// How the nodes of a container connect, by name (for exports and tools): see
/// [`connections`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connections {
    /// The positions (in the node list) of the nodes that are there, in file order.
    pub kept: Vec<usize>,
    /// Their names (`name`, else the position).
    pub names: Vec<String>,
    /// The names of each kept node's inputs (container inputs or kept nodes; a node
    /// left out is seen through to its input).
    pub sources: Vec<Vec<String>>,
    /// The kept nodes (indices into `kept`) in a running order.
    pub order: Vec<usize>,
    /// The names of the values the container returns.
    pub outputs: Vec<String>,
    /// For each kept `share` node, the name of the node whose module it calls.
    pub shares: Vec<Option<String>>,
    /// Whether the container is a plain chain (`nn.Sequential`).
    pub chain: bool,
}

/// Resolves the connections of `nodes` with inputs named `inputs`, returning
/// `outputs` (the last node when empty), with the checks a built model makes.
pub fn connections(
    inputs: &[String],
    nodes: &[NodeConfig],
    outputs: &[String],
) -> Result<Connections> {
    let w = Wiring::new(inputs, nodes, outputs)?;
    let name = |s: &Src| match s {
        Src::Input(i) => inputs[*i].clone(),
        Src::Node(k) => w.names[*k].clone(),
    };
    Ok(Connections {
        sources: w
            .sources
            .iter()
            .map(|s| s.iter().map(name).collect())
            .collect(),
        outputs: w.outputs.iter().map(name).collect(),
        shares: w
            .shares
            .iter()
            .map(|s| s.map(|k| w.names[k].clone()))
            .collect(),
        kept: w.kept.clone(),
        names: w.names.clone(),
        order: w.order.clone(),
        chain: w.chain,
    })
}
