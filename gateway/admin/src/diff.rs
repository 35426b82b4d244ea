//! Line diffs of dialplan versions in the unified format (`diff -u`), so an
//! administrator sees exactly which lines a change adds and removes.
//!
//! Myers' shortest-edit-script algorithm over lines, after the common head
//! and tail are set aside. The work is bounded: past [`MAX_EDITS`] differing
//! lines the changed middle is shown as one replacement instead of searched
//! further, which is still a correct (if longer) diff.

/// Beyond this many edits the search stops (its trace grows with the
/// square of the edit count).
const MAX_EDITS: usize = 2000;
/// Unchanged lines shown around each change.
const CONTEXT: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Equal,
    Delete,
    Insert,
}

/// The unified diff from `old` to `new`, with `---`/`+++` headers naming
/// them; empty when the texts are equal.
pub fn unified(old_name: &str, old: &str, new_name: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let ops = script(&a, &b);
    if ops.iter().all(|o| *o == Op::Equal) {
        return String::new();
    }
    let mut out = format!("--- {old_name}\n+++ {new_name}\n");
    // Positions in a and b before each op.
    let mut pos = Vec::with_capacity(ops.len());
    let (mut i, mut j) = (0usize, 0usize);
    for op in &ops {
        pos.push((i, j));
        match op {
            Op::Equal => {
                i += 1;
                j += 1;
            }
            Op::Delete => i += 1,
            Op::Insert => j += 1,
        }
    }
    let changed: Vec<usize> = (0..ops.len()).filter(|&k| ops[k] != Op::Equal).collect();
    let mut k = 0;
    while k < changed.len() {
        let start = changed[k].saturating_sub(CONTEXT);
        let mut end = changed[k];
        // Changes closer than twice the context share a hunk.
        while k < changed.len() && changed[k] <= end + 2 * CONTEXT {
            end = changed[k];
            k += 1;
        }
        let end = (end + CONTEXT + 1).min(ops.len());
        let (a0, b0) = pos[start];
        let a_len = ops[start..end].iter().filter(|o| **o != Op::Insert).count();
        let b_len = ops[start..end].iter().filter(|o| **o != Op::Delete).count();
        out.push_str(&format!(
            "@@ -{} +{} @@\n",
            range(a0, a_len),
            range(b0, b_len)
        ));
        for (op, &(x, y)) in ops[start..end].iter().zip(&pos[start..end]) {
            match op {
                Op::Equal => out.push_str(&format!(" {}\n", a[x])),
                Op::Delete => out.push_str(&format!("-{}\n", a[x])),
                Op::Insert => out.push_str(&format!("+{}\n", b[y])),
            }
        }
    }
    out
}

/// `start,len` as `diff -u` writes it: 1-based, and an empty range names
/// the line before it.
fn range(start: usize, len: usize) -> String {
    match len {
        0 => format!("{start},0"),
        1 => format!("{}", start + 1),
        _ => format!("{},{len}", start + 1),
    }
}

fn script(a: &[&str], b: &[&str]) -> Vec<Op> {
    let head = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let tail = a[head..]
        .iter()
        .rev()
        .zip(b[head..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (am, bm) = (&a[head..a.len() - tail], &b[head..b.len() - tail]);
    let mut ops = vec![Op::Equal; head];
    match myers(am, bm) {
        Some(mid) => ops.extend(mid),
        None => {
            ops.extend(std::iter::repeat_n(Op::Delete, am.len()));
            ops.extend(std::iter::repeat_n(Op::Insert, bm.len()));
        }
    }
    ops.extend(std::iter::repeat_n(Op::Equal, tail));
    ops
}

/// The shortest edit script, or `None` when it needs more than
/// [`MAX_EDITS`] edits.
fn myers(a: &[&str], b: &[&str]) -> Option<Vec<Op>> {
    let (n, m) = (a.len() as isize, b.len() as isize);
    let max = (n + m) as usize;
    let limit = max.min(MAX_EDITS);
    let off = limit as isize + 1;
    // v[k + off]: the furthest x reached on diagonal k = x - y.
    let mut v = vec![0isize; 2 * limit + 3];
    // trace[d]: v over diagonals -d-1..=d+1 before step d.
    let mut trace: Vec<Vec<isize>> = Vec::new();
    for d in 0..=limit as isize {
        trace.push(v[(off - d - 1) as usize..=(off + d + 1) as usize].to_vec());
        let mut k = -d;
        while k <= d {
            let down = k == -d || (k != d && v[(off + k - 1) as usize] < v[(off + k + 1) as usize]);
            let mut x = if down {
                v[(off + k + 1) as usize]
            } else {
                v[(off + k - 1) as usize] + 1
            };
            let mut y = x - k;
            while x < n && y < m && a[x as usize] == b[y as usize] {
                x += 1;
                y += 1;
            }
            v[(off + k) as usize] = x;
            if x >= n && y >= m {
                return Some(backtrack(&trace, n, m));
            }
            k += 2;
        }
    }
    None
}

fn backtrack(trace: &[Vec<isize>], n: isize, m: isize) -> Vec<Op> {
    let mut ops = Vec::new();
    let (mut x, mut y) = (n, m);
    for (d, snap) in trace.iter().enumerate().rev() {
        let d = d as isize;
        // snap[i] is diagonal i - d - 1.
        let at = |k: isize| snap[(k + d + 1) as usize];
        let k = x - y;
        let prev_k = if k == -d || (k != d && at(k - 1) < at(k + 1)) {
            k + 1
        } else {
            k - 1
        };
        let prev_x = if d == 0 { 0 } else { at(prev_k) };
        let prev_y = if d == 0 { 0 } else { prev_x - prev_k };
        while x > prev_x && y > prev_y {
            ops.push(Op::Equal);
            x -= 1;
            y -= 1;
        }
        if d > 0 {
            ops.push(if x == prev_x { Op::Insert } else { Op::Delete });
        }
        x = prev_x;
        y = prev_y;
    }
    ops.reverse();
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Applies a unified diff to `old`, so tests check that the diff is
    /// right, not that it looks like a particular one.
    fn patch(old: &str, diff: &str) -> String {
        let a: Vec<&str> = old.lines().collect();
        let mut out: Vec<String> = Vec::new();
        let mut i = 0usize;
        for line in diff.lines().skip(2) {
            if let Some(h) = line.strip_prefix("@@ -") {
                let old_range = h.split(' ').next().unwrap();
                let mut parts = old_range.split(',');
                let start: usize = parts.next().unwrap().parse().unwrap();
                let len: usize = parts.next().map_or(1, |l| l.parse().unwrap());
                let start0 = if len == 0 { start } else { start - 1 };
                while i < start0 {
                    out.push(a[i].to_string());
                    i += 1;
                }
            } else if let Some(l) = line.strip_prefix(' ') {
                assert_eq!(a[i], l);
                out.push(l.to_string());
                i += 1;
            } else if let Some(l) = line.strip_prefix('-') {
                assert_eq!(a[i], l);
                i += 1;
            } else if let Some(l) = line.strip_prefix('+') {
                out.push(l.to_string());
            }
        }
        out.extend(a[i..].iter().map(|s| s.to_string()));
        out.join("\n")
    }

    fn lines(s: &str) -> String {
        s.lines().collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn equal_texts_have_no_diff() {
        assert_eq!(unified("a", "x\ny\n", "b", "x\ny\n"), "");
    }

    #[test]
    fn one_changed_line_has_context() {
        let old = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        let new = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
        let d = unified("v1", old, "v2", new);
        assert_eq!(
            d,
            "--- v1\n+++ v2\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"
        );
    }

    #[test]
    fn diffs_apply_back() {
        let cases = [
            ("", "a\nb\n"),
            ("a\nb\n", ""),
            ("a\nb\nc\n", "c\nb\na\n"),
            (
                "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\n",
                "a\nB\nc\nd\ne\nf\ng\nh\ni\nj\nk\nL\nm\nn\n",
            ),
            ("x\nx\nx\ny\n", "y\nx\nx\nx\n"),
        ];
        for (old, new) in cases {
            let d = unified("a", old, "b", new);
            assert_eq!(patch(old, &d), lines(new), "{old:?} -> {new:?}:\n{d}");
        }
    }

    #[test]
    fn huge_rewrites_fall_back_to_one_replacement() {
        let old: String = (0..3000).map(|i| format!("old {i}\n")).collect();
        let new: String = (0..3000).map(|i| format!("new {i}\n")).collect();
        let d = unified("a", &old, "b", &new);
        assert!(d.starts_with("--- a\n+++ b\n@@ -1,3000 +1,3000 @@\n"));
        assert_eq!(patch(&old, &d), lines(&new));
    }
}
