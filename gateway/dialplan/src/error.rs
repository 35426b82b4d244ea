//! Operator-facing errors: every problem in a dialplan file names the file,
//! the line and column, and the field, so an administrator can fix it without
//! reading the gateway's source.

use std::fmt;

/// One problem found in a dialplan source.
///
/// Rendered as `file:line:column: field: message`, for example
/// `dialplans/x.toml:12:9: endpoint[3].unit: unknown unit "0099"`. Array
/// indexes in `field` count from 0, in file order. `line` and `column` count
/// from 1 (columns in characters, not bytes); they are 0 when the problem is
/// not tied to a place in the text (for example a file that cannot be read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialplanError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// Path of the offending field (`rule[2].match.regex`); empty when the
    /// TOML parser could not tell.
    pub field: String,
    pub message: String,
}

impl fmt::Display for DialplanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for DialplanError {}

/// Maps byte offsets of a source text to 1-based line and character column.
pub(crate) struct LineIndex<'a> {
    src: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(src.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { src, line_starts }
    }

    pub(crate) fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.src.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line];
        // A span may start inside a multi-byte character only if the TOML
        // parser is buggy; fall back to a byte column rather than panic.
        let column = self
            .src
            .get(start..offset)
            .map(|s| s.chars().count())
            .unwrap_or(offset - start);
        (line + 1, column + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        let idx = LineIndex::new("ab\nđc = 1\n");
        assert_eq!(idx.position(0), (1, 1));
        assert_eq!(idx.position(3), (2, 1));
        // 'đ' is two bytes but one column.
        assert_eq!(idx.position(5), (2, 2));
    }

    #[test]
    fn display_omits_missing_parts() {
        let e = DialplanError {
            file: "x.toml".into(),
            line: 0,
            column: 0,
            field: String::new(),
            message: "cannot read".into(),
        };
        assert_eq!(e.to_string(), "x.toml: cannot read");
    }
}
