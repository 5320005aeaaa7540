//! Parameter groups: which parameters an optimizer's `param_groups` entries select,
//! by glob patterns over `state_dict` names.

use crate::{Error, Result};

/// An entry of `param_groups`: the patterns naming its parameters.
pub trait GroupSpec {
    /// The glob patterns of `params` (`"*.bias"`, `"0.weight"`, `"4.?.weight"`).
    fn patterns(&self) -> &[String];
}

/// Whether `name` matches the glob `pattern`: `*` matches any run of characters
/// (dots included, so `"*.bias"` matches `"4.0.bias"`), `?` exactly one character,
/// anything else itself.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Splits parameters (by name, in model order) into groups: group 0 holds the
/// parameters no entry selects (left out when there are none), then one group per
/// entry of `specs`, in file order, each with its parameters in model order.
///
/// Returns, per group, its index in `specs` (`None` for the default group) and the
/// indices of its parameters.
///
/// # Errors
/// A parameter selected by two entries; a pattern that selects nothing; no
/// parameters at all.
pub fn assign<G: GroupSpec>(
    names: &[&str],
    specs: &[G],
) -> Result<Vec<(Option<usize>, Vec<usize>)>> {
    if names.is_empty() {
        return Err(Error::Group("optimizer got an empty parameter list".into()));
    }
    let mut owner: Vec<Option<usize>> = vec![None; names.len()];
    for (gi, spec) in specs.iter().enumerate() {
        if spec.patterns().is_empty() {
            return Err(Error::Group(format!(
                "param_groups[{gi}] has no `params` patterns"
            )));
        }
        for pat in spec.patterns() {
            let mut hit = false;
            for (pi, name) in names.iter().enumerate() {
                if !glob_match(pat, name) {
                    continue;
                }
                hit = true;
                match owner[pi] {
                    Some(o) if o != gi => {
                        return Err(Error::Group(format!(
                            "parameter `{name}` is in param_groups[{o}] and param_groups[{gi}] \
                             (pattern \"{pat}\"); a parameter may be in one group only"
                        )))
                    }
                    _ => owner[pi] = Some(gi),
                }
            }
            if !hit {
                return Err(Error::Group(format!(
                    "param_groups[{gi}]: pattern \"{pat}\" matches no parameter (parameters: {})",
                    preview(names)
                )));
            }
        }
    }
    let mut out = Vec::with_capacity(specs.len() + 1);
    let default: Vec<usize> = (0..names.len()).filter(|&i| owner[i].is_none()).collect();
    if !default.is_empty() {
        out.push((None, default));
    }
    for gi in 0..specs.len() {
        out.push((
            Some(gi),
            (0..names.len()).filter(|&i| owner[i] == Some(gi)).collect(),
        ));
    }
    Ok(out)
}

fn preview(names: &[&str]) -> String {
    let mut s: Vec<String> = names.iter().take(8).map(|n| format!("`{n}`")).collect();
    if names.len() > 8 {
        s.push(format!("… {} more", names.len() - 8));
    }
    s.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    struct G(Vec<String>);
    impl GroupSpec for G {
        fn patterns(&self) -> &[String] {
            &self.0
        }
    }
    fn g(p: &[&str]) -> G {
        G(p.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn globs() {
        assert!(glob_match("*.bias", "0.bias"));
        assert!(glob_match("*.bias", "4.0.bias"));
        assert!(!glob_match("*.bias", "0.weight"));
        assert!(glob_match("0.*", "0.weight"));
        assert!(glob_match("?.weight", "3.weight"));
        assert!(!glob_match("?.weight", "13.weight"));
        assert!(glob_match("*", "x"));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXbYY"));
        assert!(glob_match("3.bias", "3.bias"));
    }

    #[test]
    fn assignment_and_errors() {
        let names = ["0.weight", "0.bias", "2.weight", "2.bias"];
        let got = assign(&names, &[g(&["*.bias"])]).unwrap();
        assert_eq!(got, vec![(None, vec![0, 2]), (Some(0), vec![1, 3])]);
        // everything matched: no default group
        let got = assign(&names, &[g(&["*.bias"]), g(&["*.weight"])]).unwrap();
        assert_eq!(got, vec![(Some(0), vec![1, 3]), (Some(1), vec![0, 2])]);
        let e = assign(&names, &[g(&["*.bias"]), g(&["0.*"])]).unwrap_err();
        assert!(
            e.to_string()
                .contains("`0.bias` is in param_groups[0] and param_groups[1]"),
            "{e}"
        );
        let e = assign(&names, &[g(&["*.gamma"])]).unwrap_err();
        assert!(
            e.to_string().contains("\"*.gamma\" matches no parameter"),
            "{e}"
        );
        assert!(assign::<G>(&[], &[]).is_err());
    }
}
