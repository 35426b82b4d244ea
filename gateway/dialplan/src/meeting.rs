//! `[[meeting]]` entries: meeting numbers that rooms dial to join a meeting
//! the gateway hosts (the media bridge mixes it).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::parse::{is_ident, is_number, Ctx, S};

/// How sensitive a meeting's content is. Anything above `normal` admits only
/// encrypted legs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    Normal,
    Confidential,
    Secret,
}

impl Classification {
    pub fn as_str(self) -> &'static str {
        match self {
            Classification::Normal => "normal",
            Classification::Confidential => "confidential",
            Classification::Secret => "secret",
        }
    }

    pub fn parse(s: &str) -> Option<Classification> {
        match s {
            "normal" => Some(Classification::Normal),
            "confidential" => Some(Classification::Confidential),
            "secret" => Some(Classification::Secret),
            _ => None,
        }
    }

    pub fn requires_encryption(self) -> bool {
        self != Classification::Normal
    }
}

/// Participants a meeting admits when the dialplan does not say.
pub const DEFAULT_MAX_PARTICIPANTS: u32 = 32;
/// The most a meeting may be configured for: one mixer task per meeting.
pub const MAX_PARTICIPANTS_LIMIT: u32 = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meeting {
    /// The number rooms dial; also the meeting's identity.
    pub number: String,
    pub name: Option<String>,
    pub aliases: Vec<String>,
    /// The unit of the meeting's main bridge point: it owns the recordings.
    pub unit: String,
    pub classification: Classification,
    pub record: bool,
    pub max_participants: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMeeting {
    number: Option<S<String>>,
    name: Option<S<String>>,
    aliases: Option<Vec<S<String>>>,
    unit: Option<S<String>>,
    classification: Option<S<String>>,
    record: Option<S<bool>>,
    max_participants: Option<S<i64>>,
}

/// Validates the meetings. A meeting's number and aliases share the
/// namespace of endpoint ids, numbers and aliases (`users`): a name that
/// already designates an endpoint or another meeting is an error.
pub(crate) fn meetings(
    cx: &mut Ctx,
    raw: &[S<RawMeeting>],
    units: &HashMap<String, usize>,
    users: &HashMap<String, usize>,
) -> (Vec<Meeting>, HashMap<String, usize>) {
    let mut out: Vec<Meeting> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, rm) in raw.iter().enumerate() {
        let entry = rm.span();
        let r = rm.get_ref();
        let p = format!("meeting[{i}]");
        let number = cx.require(&r.number, &entry, &p, "number");
        let unit = cx.require(&r.unit, &entry, &p, "unit");
        let mut ok = true;
        if let Some(n) = number {
            if !is_number(n.get_ref()) {
                cx.err(
                    n.span(),
                    format!("{p}.number"),
                    format!("bad meeting number {:?} (digits, '*', '#')", n.get_ref()),
                );
                ok = false;
            }
        } else {
            ok = false;
        }
        if let Some(u) = unit {
            if !units.contains_key(u.get_ref()) {
                cx.err(
                    u.span(),
                    format!("{p}.unit"),
                    format!("unknown unit {:?}", u.get_ref()),
                );
            }
        }
        let classification = match &r.classification {
            None => Classification::Normal,
            Some(c) => Classification::parse(c.get_ref()).unwrap_or_else(|| {
                cx.err(
                    c.span(),
                    format!("{p}.classification"),
                    format!(
                        "unknown classification {:?} (normal, confidential, secret)",
                        c.get_ref()
                    ),
                );
                Classification::Normal
            }),
        };
        let max_participants = match &r.max_participants {
            None => DEFAULT_MAX_PARTICIPANTS,
            Some(m) => {
                let v = *m.get_ref();
                if !(2..=MAX_PARTICIPANTS_LIMIT as i64).contains(&v) {
                    cx.err(
                        m.span(),
                        format!("{p}.max_participants"),
                        format!("must be between 2 and {MAX_PARTICIPANTS_LIMIT}"),
                    );
                    DEFAULT_MAX_PARTICIPANTS
                } else {
                    v as u32
                }
            }
        };
        let mut names: Vec<(String, std::ops::Range<usize>, String)> = Vec::new();
        if let Some(n) = number {
            names.push((n.get_ref().clone(), n.span(), format!("{p}.number")));
        }
        let mut aliases = Vec::new();
        for (k, a) in r.aliases.iter().flatten().enumerate() {
            if !is_ident(a.get_ref()) {
                cx.err(
                    a.span(),
                    format!("{p}.aliases[{k}]"),
                    format!(
                        "bad alias {:?} (letters, digits, '.', '-', '_')",
                        a.get_ref()
                    ),
                );
                continue;
            }
            let lower = a.get_ref().to_ascii_lowercase();
            names.push((lower.clone(), a.span(), format!("{p}.aliases[{k}]")));
            aliases.push(lower);
        }
        for (name, span, field) in &names {
            if users.contains_key(name) {
                cx.err(
                    span.clone(),
                    field.clone(),
                    format!("{name:?} already designates an endpoint"),
                );
                ok = false;
            } else if let Some(&other) = index.get(name) {
                cx.err(
                    span.clone(),
                    field.clone(),
                    format!("{name:?} already designates meeting {}", out[other].number),
                );
                ok = false;
            }
        }
        if !ok {
            continue;
        }
        let me = out.len();
        for (name, _, _) in names {
            index.insert(name, me);
        }
        out.push(Meeting {
            number: number.expect("ok implies number").get_ref().clone(),
            name: r.name.as_ref().map(|n| n.get_ref().clone()),
            aliases,
            unit: unit.map(|u| u.get_ref().clone()).unwrap_or_default(),
            classification,
            record: r.record.as_ref().is_some_and(|v| *v.get_ref()),
            max_participants,
        });
    }
    (out, index)
}

#[cfg(test)]
mod tests {
    use crate::{Caller, Classification, Dialplan, RouteOutcome, RouteRequest};

    const BASE: &str = r#"
[gateway]
realm = "r"
[[unit]]
code = "01"
name = "City"
kind = "city"
[[endpoint]]
id = "1001"
unit = "01"
password = "p"
vetted = true
"#;

    fn plan(meetings: &str) -> Result<Dialplan, Vec<crate::DialplanError>> {
        Dialplan::parse(&format!("{BASE}{meetings}"), "t.toml")
    }

    fn route(dp: &Dialplan, target: &str, secure: bool) -> crate::RouteDecision {
        dp.route(&RouteRequest {
            caller: Caller::Endpoint("1001".into()),
            from_user: Some("1001".into()),
            target: target.into(),
            transport_secure: secure,
            at_unix_secs: 0,
        })
    }

    #[test]
    fn meeting_numbers_and_aliases_route_to_the_meeting_with_its_policy() {
        let dp = plan(
            r#"
[[meeting]]
number = "8002"
name = "Weekly"
aliases = ["Weekly-Briefing"]
unit = "01"
record = true
max_participants = 12
"#,
        )
        .unwrap();
        let m = &dp.meetings()[0];
        assert_eq!((m.max_participants, m.record), (12, true));
        assert_eq!(m.classification, Classification::Normal);
        for target in ["8002", "weekly-briefing", "WEEKLY-BRIEFING"] {
            let d = route(&dp, target, false);
            assert_eq!(
                d.outcome,
                RouteOutcome::Meeting {
                    number: "8002".into()
                },
                "{target}"
            );
            assert!(d.policy.record);
            assert!(!d.policy.encryption_required);
            assert_eq!(d.policy.unit.as_deref(), Some("01"));
        }
    }

    #[test]
    fn classified_meetings_refuse_plain_transport_with_the_reason() {
        let dp = plan(
            r#"
[[meeting]]
number = "8001"
unit = "01"
classification = "secret"
"#,
        )
        .unwrap();
        let d = route(&dp, "8001", false);
        match d.outcome {
            RouteOutcome::Reject { status, reason } => {
                assert_eq!(status, 488);
                assert!(reason.contains("8001 is secret"), "{reason}");
            }
            o => panic!("plain leg admitted: {o:?}"),
        }
        let d = route(&dp, "8001", true);
        assert!(matches!(d.outcome, RouteOutcome::Meeting { .. }));
        assert!(
            d.policy.encryption_required,
            "the leg must still bring SRTP"
        );
    }

    #[test]
    fn bad_meetings_are_reported_with_field_and_line() {
        let errs = plan(
            r#"
[[meeting]]
number = "1001"
unit = "02"
classification = "top"
max_participants = 1
[[meeting]]
number = "80x"
unit = "01"
"#,
        )
        .unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "meeting[0].number",
                "meeting[0].unit",
                "meeting[0].classification",
                "meeting[0].max_participants",
                "meeting[1].number"
            ],
            "{errs:?}"
        );
        assert!(errs[0].message.contains("already designates an endpoint"));
        assert!(errs.iter().all(|e| e.line > 0));
        let dup = plan(
            "[[meeting]]\nnumber = \"8000\"\nunit = \"01\"\n[[meeting]]\nnumber = \"8001\"\naliases = [\"8000\"]\nunit = \"01\"\n",
        )
        .unwrap_err();
        assert!(
            dup[0].message.contains("already designates meeting 8000"),
            "{dup:?}"
        );
    }
}
