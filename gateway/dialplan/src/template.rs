//! Substitution templates used by `rewrite`, and `uri` in rules.
//!
//! Syntax: `$N` or `${N}` inserts capture group N of the rule's match (`$0`
//! is the whole dialled target; for a `prefix` match `$1` is what follows the
//! prefix); `${name}` a named regex group; `${number}` (in `uri` only) the
//! number after rewrite/strip/prepend; `$$` a literal dollar sign.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Group(usize),
    Named(String),
    Number,
}

/// A parsed template; named groups are resolved to indexes by [`Template::resolve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    pieces: Vec<Piece>,
}

impl Template {
    pub(crate) fn parse(src: &str, allow_number: bool) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut chars = src.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c != '$' {
                lit.push(c);
                continue;
            }
            let piece = match chars.peek().copied() {
                Some((_, '$')) => {
                    chars.next();
                    lit.push('$');
                    continue;
                }
                Some((_, d)) if d.is_ascii_digit() => {
                    let mut n = String::new();
                    while let Some((_, d)) =
                        chars.peek().copied().filter(|(_, d)| d.is_ascii_digit())
                    {
                        n.push(d);
                        chars.next();
                    }
                    Piece::Group(parse_group(&n)?)
                }
                Some((_, '{')) => {
                    chars.next();
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some((_, '}')) => break,
                            Some((_, ch)) => name.push(ch),
                            None => return Err(format!("unterminated \"${{\" at offset {i}")),
                        }
                    }
                    if name.is_empty() {
                        return Err("empty \"${}\"".into());
                    } else if name.chars().all(|c| c.is_ascii_digit()) {
                        Piece::Group(parse_group(&name)?)
                    } else if name == "number" {
                        if !allow_number {
                            return Err("\"${number}\" is only available in uri templates".into());
                        }
                        Piece::Number
                    } else if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                        Piece::Named(name)
                    } else {
                        return Err(format!("bad group name {name:?}"));
                    }
                }
                _ => {
                    return Err(format!(
                    "\"$\" at offset {i} must be followed by a group number, \"{{name}}\" or \"$\""
                ))
                }
            };
            if !lit.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(&mut lit)));
            }
            pieces.push(piece);
        }
        if !lit.is_empty() {
            pieces.push(Piece::Literal(lit));
        }
        Ok(Template {
            source: src.to_string(),
            pieces,
        })
    }

    /// Checks group references against what the match provides: `groups`
    /// counts group 0, `names` maps named groups to their indexes.
    pub(crate) fn resolve(
        &mut self,
        groups: usize,
        names: &[(String, usize)],
    ) -> Result<(), String> {
        for p in &mut self.pieces {
            match p {
                Piece::Group(n) if *n >= groups => {
                    return Err(format!(
                        "refers to group ${n}, but the match has {} group(s) after $0",
                        groups - 1
                    ))
                }
                Piece::Named(name) => match names.iter().find(|(n, _)| n == name) {
                    Some((_, i)) => *p = Piece::Group(*i),
                    None => return Err(format!("refers to unknown group \"${{{name}}}\"")),
                },
                _ => {}
            }
        }
        Ok(())
    }

    /// Expands the template. Missing optional groups expand to nothing;
    /// `escape` is applied to every inserted value (not to literals).
    pub(crate) fn expand(
        &self,
        groups: &[Option<&str>],
        number: &str,
        escape: fn(&str) -> String,
    ) -> String {
        // Sized for the unescaped result: one allocation, not a growth
        // per piece (escaping rarely lengthens a dialled number).
        let len = |p: &Piece| match p {
            Piece::Literal(s) => s.len(),
            Piece::Group(n) => groups.get(*n).copied().flatten().map_or(0, str::len),
            Piece::Number => number.len(),
            Piece::Named(_) => 0,
        };
        let mut out = String::with_capacity(self.pieces.iter().map(len).sum());
        for p in &self.pieces {
            match p {
                Piece::Literal(s) => out.push_str(s),
                Piece::Group(n) => {
                    out.push_str(&escape(groups.get(*n).copied().flatten().unwrap_or("")))
                }
                Piece::Number => out.push_str(&escape(number)),
                // Resolved at parse time; unreachable for validated dialplans.
                Piece::Named(_) => {}
            }
        }
        out
    }

    /// Reads a byte of each literal, so that a caller can start the cache
    /// misses of a rule's strings together (see `route.rs`).
    pub(crate) fn prefetch(&self) -> u8 {
        self.pieces.iter().fold(0, |x, p| match p {
            Piece::Literal(s) => x ^ s.as_bytes().first().copied().unwrap_or(0),
            _ => x,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }
}

fn parse_group(n: &str) -> Result<usize, String> {
    match n.parse::<usize>() {
        Ok(v) if v < 100 => Ok(v),
        _ => Err(format!("group number {n} is too large")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> String {
        s.to_string()
    }

    #[test]
    fn expands_groups_names_and_number() {
        let mut t = Template::parse("sip:${number}@h;x=$1${2}$$${area}", true).unwrap();
        t.resolve(4, &[("area".into(), 3)]).unwrap();
        let out = t.expand(&[Some("0912"), Some("9"), None, Some("24")], "84912", id);
        assert_eq!(out, "sip:84912@h;x=9$24");
    }

    #[test]
    fn rejects_bad_references() {
        assert!(Template::parse("$x", false).is_err());
        assert!(Template::parse("${1", false).is_err());
        assert!(Template::parse("${number}", false).is_err());
        assert!(Template::parse("$", false).is_err());
        let mut t = Template::parse("$2", false).unwrap();
        assert!(t.resolve(2, &[]).unwrap_err().contains("$2"));
        let mut t = Template::parse("${area}", false).unwrap();
        assert!(t.resolve(2, &[]).is_err());
    }
}
