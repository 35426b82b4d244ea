use crate::{Caller, Dialplan, RouteOutcome, RouteRequest};

/// A caller deeper than the scope chain holds still meets the rules of
/// every unit above it, in file order.
#[test]
fn scopes_of_a_deeply_nested_caller() {
    let mut s = String::from("[[unit]]\ncode = \"u0\"\nname = \"U0\"\nkind = \"city\"\n");
    for i in 1..24 {
        s.push_str(&format!(
            "[[unit]]\ncode = \"u{i}\"\nname = \"U{i}\"\nkind = \"ward\"\nparent = \"u{}\"\n",
            i - 1
        ));
    }
    s.push_str("[[endpoint]]\nid = \"deep\"\nunit = \"u23\"\npassword = \"x\"\nvetted = true\n");
    s.push_str("[[endpoint]]\nid = \"mid\"\nunit = \"u5\"\npassword = \"x\"\nvetted = true\n");
    for (name, unit, status) in [("a", "u20", 451), ("b", "u3", 452), ("c", "u0", 453)] {
        s.push_str(&format!(
            "[[rule]]\nname = \"{name}\"\nmatch = {{ prefix = \"7\" }}\nfrom_unit = \"{unit}\"\naction = \"reject\"\nstatus = {status}\n"
        ));
    }
    let d = Dialplan::parse(&s, "deep.toml").unwrap();
    let status = |caller: &str| match d
        .route(&RouteRequest {
            caller: Caller::Endpoint(caller.into()),
            from_user: None,
            target: "77".into(),
            transport_secure: false,
            at_unix_secs: 0,
        })
        .outcome
    {
        RouteOutcome::Reject { status, .. } => status,
        o => panic!("{o:?}"),
    };
    assert_eq!(status("deep"), 451);
    assert_eq!(status("mid"), 452);
}
