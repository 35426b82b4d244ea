//! The WHIP/WHEP (RFC 9725) rules that need no I/O: reading a trickle ICE
//! fragment (RFC 8840) and writing problem bodies (RFC 9457).

/// The candidates of one `application/trickle-ice-sdpfrag` body, in order,
/// without the `a=` prefix. `a=end-of-candidates` and the ufrag/pwd/mid
/// lines carry nothing an ICE-lite leg needs and are skipped.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TrickleFragment {
    pub candidates: Vec<String>,
    /// The fragment's `a=ice-ufrag`; a different one than the session's
    /// asks for an ICE restart.
    pub ufrag: Option<String>,
}

/// Fragments bigger than this are refused (a real one is a few hundred bytes).
pub const MAX_FRAGMENT_BYTES: usize = 16 * 1024;
/// More candidates than this in one PATCH are refused.
pub const MAX_CANDIDATES: usize = 64;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FragmentError {
    #[error("the fragment is {0} bytes, more than {MAX_FRAGMENT_BYTES}")]
    TooBig(usize),
    #[error("more than {MAX_CANDIDATES} candidates in one fragment")]
    TooManyCandidates,
    #[error("line {0} is not an SDP attribute or media line")]
    BadLine(usize),
}

pub fn parse_trickle_fragment(body: &str) -> Result<TrickleFragment, FragmentError> {
    if body.len() > MAX_FRAGMENT_BYTES {
        return Err(FragmentError::TooBig(body.len()));
    }
    let mut frag = TrickleFragment::default();
    for (i, line) in body.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        if let Some(c) = line.strip_prefix("a=candidate:") {
            if frag.candidates.len() == MAX_CANDIDATES {
                return Err(FragmentError::TooManyCandidates);
            }
            frag.candidates.push(format!("candidate:{c}"));
        } else if let Some(u) = line.strip_prefix("a=ice-ufrag:") {
            frag.ufrag = Some(u.to_string());
        } else if !(line.starts_with("a=") || line.starts_with("m=")) {
            return Err(FragmentError::BadLine(i + 1));
        }
    }
    Ok(frag)
}

/// An RFC 9457 `application/problem+json` body. The detail is the peer's
/// "why" in one sentence; JSON escaping is done here.
pub fn problem_json(status: u16, title: &str, detail: &str) -> String {
    format!(
        "{{\"type\":\"about:blank\",\"title\":{},\"status\":{status},\"detail\":{}}}",
        json_string(title),
        json_string(detail)
    )
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
