// The administration UI: one page, views chosen by the URL fragment
// (#/endpoints, #/rules, ...), every datum from the REST API. Text from the
// API is only ever put into the page as text nodes, never as HTML.

import { api, ApiError, getSession, login, logout, setSession, setUnauthorizedHandler } from "./api.js";
import { t, getLang, setLang, LANGS } from "./i18n.js";
import { appendBlock, blockText, findRule, NEW_RULE_TEMPLATE, replaceBlock } from "./dialplan.js";
import {
  append, badge, clear, dl, forgetUnitNames, h, loadUnitNames, notice, problemBox, roleLabel, setFlash, show,
  takeFlash, unitLabel, unitNamesLoaded, when, whenMs, yesNo,
} from "./dom.js";
import { endpointForm, mayEditEndpoints } from "./endpoint_form.js";
import { usersView } from "./users.js";

const root = document.getElementById("app");

// ---------------------------------------------------------------- shell

const NAV = [
  ["units", "nav_units"],
  ["endpoints", "nav_endpoints"],
  ["vetting", "nav_vetting"],
  ["meetings", "nav_meetings"],
  ["trunks", "nav_trunks"],
  ["rules", "nav_rules"],
  ["users", "nav_users"],
  ["audit", "nav_audit"],
];

function langSwitch() {
  return h("div.lang", { role: "group", "aria-label": t("language") },
    LANGS.map((l) => h(`button.lang-${l}`, {
      type: "button",
      "aria-pressed": String(getLang() === l),
      lang: l,
      onclick: () => {
        setLang(l);
        render();
      },
    }, l.toUpperCase())));
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { parts, params: new URLSearchParams(query || "") };
}

let renderSeq = 0;

async function render() {
  document.documentElement.lang = getLang();
  document.title = t("app_title");
  const seq = ++renderSeq;
  clear(root);
  const session = getSession();
  if (!session) {
    root.append(loginView());
    return;
  }
  const { parts, params } = parseHash();
  const view = parts[0] || "endpoints";
  const navView = view === "new-endpoint" ? "endpoints" : view;
  const header = h("header.top",
    h("div.brand", h("img", { src: "favicon.svg", alt: "", width: 24, height: 24 }), t("app_title")),
    h("nav", { "aria-label": t("nav") },
      NAV.map(([k, label]) => h("a", { href: `#/${k}`, class: navView === k ? "active" : null, "aria-current": navView === k ? "page" : null }, t(label)))),
    h("div.who",
      h("span.user", session.user),
      h("span.role", roleLabel(session.role)),
      h("span.scope", session.unit ? unitLabel(session.unit) : t("whole_network")),
      langSwitch(),
      h("button.logout#logout", {
        type: "button",
        onclick: async () => {
          await logout().catch(() => {});
          location.hash = "";
          render();
        },
      }, t("logout"))));
  const main = h("main#view");
  root.append(header, main);
  if (!unitNamesLoaded()) await loadUnitNames();
  if (seq !== renderSeq) return;
  const views = {
    units: unitsView,
    endpoints: endpointsView,
    "new-endpoint": (m, _p, _q, cur) => endpointForm(m, null, cur),
    vetting: vettingView,
    meetings: meetingsView,
    trunks: trunksView,
    rules: rulesView,
    users: usersView,
    audit: auditView,
  };
  const f = views[view];
  try {
    if (!f) throw new Error(t("err_no_view"));
    await f(main, parts.slice(1), params, () => seq === renderSeq, render);
  } catch (e) {
    if (seq === renderSeq) main.append(problemBox(e));
  }
}

setUnauthorizedHandler(() => {
  // Expired or revoked: back to the login screen, saying why.
  setSession(null);
  pendingLoginMessage = t("session_expired");
  render();
});

let pendingLoginMessage = null;

// ---------------------------------------------------------------- login

function loginView() {
  const msg = h("div.msg");
  if (pendingLoginMessage) {
    msg.append(notice(pendingLoginMessage));
    pendingLoginMessage = null;
  }
  const user = h("input#login-user", { name: "user", autocomplete: "username", required: true, autofocus: true });
  const password = h("input#login-password", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const submit = h("button.primary#login-submit", { type: "submit" }, t("login_submit"));
  const form = h("form.login", {
    onsubmit: async (ev) => {
      ev.preventDefault();
      submit.disabled = true;
      show(msg, null);
      try {
        await login(user.value.trim(), password.value);
        forgetUnitNames();
        if (!location.hash || location.hash === "#") location.hash = "#/endpoints";
        render();
      } catch (e) {
        show(msg, problemBox(e));
        password.select();
      } finally {
        submit.disabled = false;
      }
    },
  },
  h("h1", t("login_title")),
  h("label", t("login_user"), user),
  h("label", t("login_password"), password),
  submit,
  msg);
  return h("div.login-page", h("div.login-lang", langSwitch()), form);
}

// ---------------------------------------------------------------- units

async function unitsView(main, _parts, params, current) {
  const structure = params.get("structure") || "2025";
  const filter = h("input#unit-filter", { type: "search", placeholder: t("units_filter"), value: params.get("q") || "" });
  const select = h("select#unit-structure", {
    onchange: () => {
      location.hash = `#/units?structure=${select.value}`;
    },
  }, ["2025", "2024"].map((s) => h("option", { value: s, selected: s === structure }, t(`structure_${s}`))));
  const tree = h("div.tree#unit-tree", t("loading"));
  main.append(h("h1", t("nav_units")), h("div.toolbar", h("label", t("structure"), select), h("label", t("search"), filter)), tree);
  const nodes = await api("GET", `/units?structure=${encodeURIComponent(structure)}`);
  if (!current()) return;
  const count = (n) => 1 + n.children.reduce((a, c) => a + count(c), 0);
  const draw = () => {
    const q = filter.value.trim().toLocaleLowerCase("vi");
    clear(tree);
    const keep = (n) => !q || n.name.toLocaleLowerCase("vi").includes(q) || n.code.includes(q) || (n.codename || "").includes(q) || n.children.some(keep);
    const node = (n, depth) => {
      const label = h("span.unit",
        h("span.unit-name", n.name), " ",
        h("code", `${n.structure}/${n.code}`), " ",
        h("span.kind", t(`kind_${n.kind}`)), " ",
        h("a.small", { href: `#/endpoints?unit=${encodeURIComponent(`${n.structure}/${n.code}`)}` }, t("units_endpoints")));
      const kids = n.children.filter(keep);
      if (!kids.length) return h("div.leaf", label);
      return h("details", { open: depth < 1 || !!q }, h("summary", label, h("span.count", ` (${count(n) - 1})`)), kids.map((c) => node(c, depth + 1)));
    };
    const shown = nodes.filter(keep);
    if (!shown.length) tree.append(h("p.empty", t("nothing")));
    shown.forEach((n) => tree.append(node(n, 0)));
  };
  filter.addEventListener("input", draw);
  draw();
}

// ------------------------------------------------------------ endpoints

function contactCell(c) {
  if (!c) return h("span.muted", t("none"));
  return h("span", c.name, c.phone ? h("span.muted", ` · ${c.phone}`) : null, c.email ? h("span.muted", ` · ${c.email}`) : null);
}

function deviceText(d) {
  if (!d) return t("device_none");
  return [d.vendor, d.model, d.firmware].filter(Boolean).join(" ");
}

async function endpointsView(main, parts, params, current) {
  if (parts[0] && parts[1] === "edit") return endpointForm(main, parts[0], current);
  if (parts[0]) return endpointDetail(main, parts[0], current);
  const unit = params.get("unit") || "";
  const vetting = params.get("vetting") || "";
  const unitIn = h("input#ep-unit", { value: unit, placeholder: "2025/01" });
  const stateIn = h("select#ep-vetting", ["", "pending", "approved", "suspended"].map((s) => h("option", { value: s, selected: s === vetting }, s ? t(`vetting_${s}`) : t("all"))));
  const search = h("input#ep-search", { type: "search", placeholder: t("endpoints_search") });
  const apply = h("form.toolbar", {
    onsubmit: (ev) => {
      ev.preventDefault();
      const q = new URLSearchParams();
      if (unitIn.value.trim()) q.set("unit", unitIn.value.trim());
      if (stateIn.value) q.set("vetting", stateIn.value);
      location.hash = `#/endpoints?${q}`;
    },
  }, h("label", t("unit"), unitIn), h("label", t("vetting"), stateIn), h("button", { type: "submit" }, t("filter")), h("label", t("search"), search));
  const table = h("div#endpoints", t("loading"));
  append(main, [
    h("h1", t("nav_endpoints")),
    mayEditEndpoints() ? h("div.actions", h("a.button.primary#endpoint-new", { href: "#/new-endpoint" }, t("endpoint_new"))) : null,
    apply,
    table,
  ]);
  const q = new URLSearchParams();
  if (unit) q.set("unit", unit);
  if (vetting) q.set("vetting", vetting);
  const eps = await api("GET", `/endpoints?${q}`);
  if (!current()) return;
  const draw = () => {
    const s = search.value.trim().toLocaleLowerCase("vi");
    const rows = eps.filter((e) => !s || [e.id, e.display || "", ...e.numbers, ...e.aliases].some((x) => x.toLocaleLowerCase("vi").includes(s)));
    clear(table);
    table.append(h("p.muted", t("count", { n: rows.length })));
    if (!rows.length) return;
    table.append(h("table.data",
      h("thead", h("tr", ["col_id", "col_display", "unit", "col_numbers", "vetting", "col_device", "contact_office_lead", "contact_technical_officer"].map((k) => h("th", t(k))))),
      h("tbody", rows.map((e) => h("tr", { "data-id": e.id },
        h("td", h("a", { href: `#/endpoints/${encodeURIComponent(e.id)}` }, e.id)),
        h("td", e.display || ""),
        h("td", unitLabel(e.unit)),
        h("td", [...e.numbers, ...e.aliases].join(", ")),
        h("td", badge(e.vetting.state)),
        h("td", deviceText(e.device)),
        h("td", contactCell(e.contacts.office_lead)),
        h("td", contactCell(e.contacts.technical_officer)))))));
  };
  search.addEventListener("input", draw);
  draw();
}

function deviceEvents(events) {
  if (!events || !events.length) return h("p.muted", t("nothing"));
  return h("table.data.events",
    h("thead", h("tr", h("th", t("col_time")), h("th", t("col_event")), h("th", t("col_detail")))),
    h("tbody", events.map((ev) => h("tr",
      h("td", when(ev.at_unix)),
      h("td", t(`event_${ev.kind}`)),
      h("td", ev.detail)))));
}

async function endpointDetail(main, id, current) {
  const e = await api("GET", `/endpoints/${encodeURIComponent(id)}`);
  if (!current()) return;
  const msg = h("div.msg");
  takeFlash(msg);
  const c = e.contacts;
  append(main, [
    h("p", h("a", { href: "#/endpoints" }, `← ${t("nav_endpoints")}`)),
    h("h1", `${e.id}${e.display ? ` — ${e.display}` : ""} `, badge(e.vetting.state)),
    msg,
    mayEditEndpoints()
      ? h("div.actions", h("a.button#endpoint-edit", { href: `#/endpoints/${encodeURIComponent(e.id)}/edit` }, t("endpoint_edit")))
      : null,
    h("section.card",
      dl([
        [t("unit"), unitLabel(e.unit)],
        [t("col_protocol"), e.protocol],
        [t("col_numbers"), e.numbers.join(", ") || "—"],
        [t("col_aliases"), e.aliases.join(", ") || "—"],
        [t("fixed_address"), e.fixed_address || "—"],
        [t("credentials"), e.credentials ? `${e.credentials.realm} · ${e.credentials.forms.join(", ")} · ${e.credentials.fingerprint}` : t("none")],
        [t("vetting"), h("span", badge(e.vetting.state), " ", e.vetting.reason || "", e.vetting.by ? ` (${e.vetting.by}, ${when(e.vetting.at_unix)})` : "")],
        [t("created"), when(e.created_at_unix)],
        [t("updated"), when(e.updated_at_unix)],
      ])),
    h("h2", t("contacts")),
    h("section.card", dl([[t("contact_office_lead"), contactCell(c.office_lead)], [t("contact_technical_officer"), contactCell(c.technical_officer)]])),
    e.contact_history && e.contact_history.length
      ? h("details", h("summary", t("contact_history")), h("table.data",
        h("thead", h("tr", ["col_role", "col_name", "col_phone", "col_email", "col_since", "col_until", "col_by"].map((k) => h("th", t(k))))),
        h("tbody", e.contact_history.map((x) => h("tr", h("td", t(`contact_${x.role}`)), h("td", x.name), h("td", x.phone || ""), h("td", x.email || ""), h("td", when(x.since_unix)), h("td", x.until_unix ? when(x.until_unix) : "—"), h("td", x.changed_by))))))
      : null,
    h("h2", t("device")),
    h("section.card", e.device
      ? dl([
        [t("col_vendor"), e.device.vendor], [t("col_model"), e.device.model], [t("col_firmware"), e.device.firmware || "—"],
        [t("col_serial"), e.device.serial || "—"], ["User-Agent", h("code", e.device.user_agent)],
        [t("first_seen"), when(e.device.first_seen_unix)], [t("last_seen"), when(e.device.last_seen_unix)],
        [t("maintenance_due"), e.device.maintenance_due || "—"],
      ])
      : h("p.muted", t("device_none"))),
    e.device_history && e.device_history.length > 1
      ? h("details", h("summary", t("device_history")), h("table.data",
        h("thead", h("tr", ["col_vendor", "col_model", "col_firmware", "col_serial", "first_seen", "last_seen", "retired"].map((k) => h("th", t(k))))),
        h("tbody", e.device_history.map((d) => h("tr", h("td", d.vendor), h("td", d.model), h("td", d.firmware || ""), h("td", d.serial || ""), h("td", when(d.first_seen_unix)), h("td", when(d.last_seen_unix)), h("td", d.retired_unix ? when(d.retired_unix) : "—"))))))
      : null,
    h("h2", t("device_events")),
    deviceEvents(e.device_events),
    h("p", h("a", { href: `#/audit?object_kind=endpoint&object_id=${encodeURIComponent(e.id)}` }, t("audit_for_this"))),
  ]);
  if (getSession().role === "security-reviewer") {
    main.insertBefore(vettingActions(e, msg, () => render()), msg.nextSibling);
  }
}

// -------------------------------------------------------------- vetting

/** Approve/suspend controls: only a security reviewer gets them (the API
 * refuses everyone else anyway). */
function vettingActions(e, msg, done) {
  const reason = h("input.reason", { id: `reason-${e.id}`, placeholder: t("vetting_reason"), "aria-label": t("vetting_reason") });
  const act = async (what, button) => {
    // Suspending cuts an endpoint off the network: asked twice.
    if (what === "suspend" && !confirm(t("vetting_suspend_confirm", { id: e.id }))) return;
    button.disabled = true;
    show(msg, null);
    try {
      const body = reason.value.trim() ? { reason: reason.value.trim() } : {};
      await api("POST", `/vetting/${encodeURIComponent(e.id)}/${what}`, body);
      setFlash(t(what === "approve" ? "vetting_approved_msg" : "vetting_suspended_msg", { id: e.id }));
      done();
    } catch (err) {
      show(msg, problemBox(err));
      button.disabled = false;
    }
  };
  const approve = h("button.approve", { type: "button", id: `approve-${e.id}`, onclick: () => act("approve", approve) }, t("vetting_approve"));
  const suspend = h("button.danger", { type: "button", id: `suspend-${e.id}`, onclick: () => act("suspend", suspend) }, t("vetting_suspend"));
  return h("div.actions", reason, approve, suspend);
}

async function vettingView(main, _parts, _params, current) {
  main.append(h("h1", t("nav_vetting")));
  takeFlash(main);
  const reviewer = getSession().role === "security-reviewer";
  if (!reviewer) main.append(h("p.hint#vetting-readonly", t("vetting_readonly")));
  const list = h("div#vetting-list", t("loading"));
  main.append(list);
  const queue = await api("GET", "/vetting");
  if (!current()) return;
  clear(list);
  if (!queue.length) {
    list.append(h("p.empty#vetting-empty", t("vetting_empty")));
    return;
  }
  for (const e of queue) {
    const msg = h("div.msg");
    list.append(h("section.card.vet", { "data-id": e.id },
      h("h2", h("a", { href: `#/endpoints/${encodeURIComponent(e.id)}` }, e.id), e.display ? ` — ${e.display}` : "", " ", badge(e.vetting.state)),
      dl([
        [t("unit"), unitLabel(e.unit)],
        [t("col_numbers"), [...e.numbers, ...e.aliases].join(", ") || "—"],
        [t("vetting_since"), `${when(e.vetting.at_unix)}${e.vetting.by ? ` (${e.vetting.by})` : ""}`],
        [t("vetting_why"), e.vetting.reason || "—"],
        [t("device"), deviceText(e.device)],
        [t("contact_technical_officer"), contactCell(e.contacts.technical_officer)],
      ]),
      h("h3", t("device_events")),
      deviceEvents(e.device_events),
      reviewer ? vettingActions(e, msg, () => render()) : null,
      msg));
  }
}

// ----------------------------------------------------- meetings, trunks

async function meetingsView(main, _p, _q, current) {
  main.append(h("h1", t("nav_meetings")));
  const ms = await api("GET", "/meetings");
  if (!current()) return;
  if (!ms.length) return main.append(h("p.empty", t("nothing")));
  main.append(h("table.data#meetings",
    h("thead", h("tr", ["col_number", "col_name", "col_aliases", "unit", "col_classification", "col_encryption", "col_record", "col_max_participants"].map((k) => h("th", t(k))))),
    h("tbody", ms.map((m) => h("tr",
      h("td", h("code", m.number)), h("td", m.name || ""), h("td", m.aliases.join(", ")), h("td", unitLabel(m.unit)),
      h("td", h(`span.class-${m.classification}`, t(`class_${m.classification}`))),
      h("td", m.encryption_required ? t("required") : t("optional")), h("td", yesNo(m.record)), h("td", String(m.max_participants)))))));
}

async function trunksView(main, _p, _q, current) {
  main.append(h("h1", t("nav_trunks")));
  const ts = await api("GET", "/trunks");
  if (!current()) return;
  if (!ts.length) return main.append(h("p.empty", t("nothing")));
  main.append(h("table.data#trunks",
    h("thead", h("tr", ["col_name", "URI", "ACL", "col_username", "col_authenticates", "unit"].map((k) => h("th", k.startsWith("col_") || k === "unit" ? t(k) : k)))),
    h("tbody", ts.map((tr) => h("tr",
      h("td", tr.name), h("td", h("code", tr.uri)), h("td", tr.acl.join(", ")), h("td", tr.username || "—"),
      h("td", yesNo(tr.authenticates)), h("td", unitLabel(tr.unit)))))));
}

// ---------------------------------------------------------------- rules

function ruleAction(r) {
  const bits = [t(`action_${r.action}`)];
  if (r.endpoint) bits.push(r.endpoint);
  if (r.trunk) bits.push(r.trunk);
  if (r.uri) bits.push(r.uri);
  if (r.status) bits.push(`${r.status} ${r.reason || ""}`);
  if (r.rewrite) {
    const rw = r.rewrite;
    if (rw.template) bits.push(`${t("rewrite")} ${rw.template}`);
    if (rw.strip) bits.push(`${t("strip")} ${rw.strip}`);
    if (rw.prepend) bits.push(`${t("prepend")} ${rw.prepend}`);
  }
  return bits.join(" · ");
}

function rulePolicy(r) {
  const bits = [];
  if (r.encryption) bits.push(`${t("col_encryption")}: ${t(r.encryption)}`);
  if (r.record !== null && r.record !== undefined) bits.push(`${t("col_record")}: ${yesNo(r.record)}`);
  if (r.max_duration_secs) bits.push(`${t("max_duration")}: ${r.max_duration_secs} s`);
  if (r.caller_id) bits.push(`${t("caller_id")}: ${r.caller_id}`);
  return bits.join(" · ") || "—";
}

/** The rule the trace says decided, or null (decided before the rules). */
function decidingRule(trace) {
  for (const line of trace) {
    const m = /^rule ("(?:[^"\\]|\\.)*") matched/.exec(line);
    if (m) {
      try {
        return JSON.parse(m[1]);
      } catch {
        return m[1].slice(1, -1);
      }
    }
  }
  return null;
}

// The try-a-call form keeps its values across re-renders and saves.
const tryState = { caller: "1001", target: "", secure: false, source: "" };
// The rule editor's draft survives a language switch.
let draft = null;

async function rulesView(main, _p, _q, current) {
  const session = getSession();
  const mayEdit = session.role === "city-admin" && !session.unit;
  main.append(h("h1", t("nav_rules")));
  takeFlash(main);

  // Try a call.
  const caller = h("input#try-caller", { value: tryState.caller, list: "callers", required: true });
  const target = h("input#try-target", { value: tryState.target, required: true, placeholder: "0912345678" });
  const secure = h("input#try-secure", { type: "checkbox", checked: tryState.secure });
  const source = h("input#try-source", { value: tryState.source, placeholder: "192.0.2.10" });
  const callers = h("datalist#callers");
  const result = h("div#route-result", { "aria-live": "polite" });
  const run = async () => {
    Object.assign(tryState, { caller: caller.value.trim(), target: target.value.trim(), secure: secure.checked, source: source.value.trim() });
    const body = { caller: tryState.caller, target: tryState.target, transport_secure: tryState.secure };
    if (tryState.source) body.source = tryState.source;
    show(result, h("p.muted", t("loading")));
    try {
      const a = await api("POST", "/route", body);
      show(result, routeAnswer(a));
    } catch (e) {
      show(result, problemBox(e));
    }
  };
  main.append(h("section.card.try",
    h("h2", t("try_title")),
    h("form.toolbar#try-form", {
      onsubmit: (ev) => {
        ev.preventDefault();
        run();
      },
    },
    h("label", t("try_caller"), caller),
    h("label", t("try_target"), target),
    h("label.check", secure, t("try_secure")),
    h("label", t("try_source"), source),
    h("button.primary#try-submit", { type: "submit" }, t("try_submit"))),
    h("p.hint", t("try_hint")),
    callers,
    result));
  api("GET", "/endpoints").then((eps) => {
    append(callers, eps.map((e) => h("option", { value: e.id }, e.display || "")));
  }).catch(() => {});

  const [rules, trunks] = await Promise.all([api("GET", "/rules"), api("GET", "/trunks").catch(() => [])]);
  if (!current()) return;
  append(callers, trunks.map((tr) => h("option", { value: `trunk:${tr.name}` })), h("option", { value: "anonymous" }));

  const editor = h("div#rule-editor");
  const table = h("table.data#rules",
    h("thead", h("tr", ["col_position", "col_name", "col_match", "col_from", "col_action", "col_policy", ""].map((k) => h("th", k ? t(k) : "")))),
    h("tbody", rules.map((r) => h("tr", { "data-rule": r.name },
      h("td", String(r.position + 1)),
      h("td", h("strong", r.name)),
      h("td", h("span.muted", `${t(`match_${r.match.kind}`)} `), h("code", r.match.pattern)),
      h("td", [r.from_unit ? `${t("unit")} ${unitLabel(r.from_unit)}` : null, r.from_trunk ? `${t("trunk")} ${r.from_trunk}` : null].filter(Boolean).join(", ") || t("anyone")),
      h("td", ruleAction(r)),
      h("td", rulePolicy(r)),
      h("td", mayEdit ? h("button.edit", { type: "button", "data-edit": r.name, onclick: () => openEditor(editor, { position: r.position, name: r.name }) }, t("edit")) : null)))));
  main.append(
    h("h2", t("rules_list")),
    h("p.hint", t("rules_hint")),
    rules.length ? table : h("p.empty", t("nothing")),
    mayEdit
      ? h("div.actions",
        h("button#rule-new", { type: "button", onclick: () => openEditor(editor, { add: true }) }, t("rule_new")),
        h("button#dialplan-edit", { type: "button", onclick: () => openEditor(editor, { whole: true }) }, t("dialplan_edit_whole")))
      : h("p.hint#rules-readonly", t("rules_readonly")),
    editor);
  if (draft && mayEdit) openEditor(editor, draft.what, draft);
  if (mayEdit || session.role === "auditor") {
    const versions = h("section#versions");
    main.append(versions);
    versionsPanel(versions, mayEdit).catch((e) => versions.append(problemBox(e)));
  }
  if (tryState.target) run();
}

function routeAnswer(a) {
  const o = a.outcome;
  const rule = decidingRule(a.trace);
  let text;
  switch (o.kind) {
    case "endpoint": text = t("outcome_endpoint", { id: o.id }); break;
    case "trunk": text = t("outcome_trunk", { name: o.name, uri: o.uri }); break;
    case "uri": text = t("outcome_uri", { uri: o.uri }); break;
    case "meeting": text = t("outcome_meeting", { number: o.number }); break;
    case "reject": text = t("outcome_reject", { status: o.status, reason: o.reason }); break;
    default: text = JSON.stringify(o);
  }
  const p = a.policy;
  return h(`div.decision.decision-${o.kind === "reject" ? "reject" : "ok"}`,
    h("div.outcome#route-outcome", text),
    h("div.rule#route-rule", rule !== null ? t("decided_by_rule", { name: rule }) : t("decided_before_rules")),
    dl([
      [t("col_encryption"), p.encryption_required ? t("required") : t("optional")],
      [t("col_record"), yesNo(p.record)],
      [t("max_duration"), `${p.max_duration_secs} s`],
      p.caller_id ? [t("caller_id"), p.caller_id] : null,
      [t("unit"), p.unit ? unitLabel(p.unit) : t("none")],
      [t("dialplan_version"), String(a.version)],
    ]),
    h("details", h("summary", t("trace")), h("ol.trace", a.trace.map((l) => h("li", { class: /^rule .* matched/.test(l) ? "hit" : null }, l)))));
}

async function currentSource() {
  const list = await api("GET", "/versions?limit=1");
  if (list.current === null || list.current === undefined) return { version: null, source: "" };
  const v = await api("GET", `/versions/${list.current}`);
  return { version: list.current, source: v.source, file_name: v.file_name };
}

/** The rule editor: one [[rule]] table (or the whole file) of the current
 * version, checked by a dry run and stored as a new version. */
async function openEditor(slot, what, restored) {
  clear(slot);
  const msg = h("div.msg");
  slot.append(h("p.muted", t("loading")));
  let base;
  try {
    base = restored ? restored.base : await currentSource();
  } catch (e) {
    show(slot, problemBox(e));
    return;
  }
  let block = null;
  let initial;
  if (what.whole) {
    initial = base.source;
  } else if (what.add) {
    initial = NEW_RULE_TEMPLATE;
  } else {
    block = findRule(base.source, what.position, what.name);
    if (!block) {
      // A layout this editor does not understand: edit the whole file.
      what = { whole: true };
      initial = base.source;
      msg.append(notice(t("rule_not_found_whole")));
    } else {
      initial = blockText(base.source, block);
    }
  }
  const text = h("textarea#rule-text", { spellcheck: "false", rows: Math.min(30, Math.max(8, initial.split("\n").length + 2)), "aria-label": t("editor_text") });
  text.value = restored ? restored.text : initial;
  draft = { what, base, text: text.value };
  text.addEventListener("input", () => {
    draft.text = text.value;
  });
  const out = h("div#editor-output");
  const fullText = () => {
    if (what.whole) return text.value;
    if (what.add) return appendBlock(base.source, text.value);
    return replaceBlock(base.source, block, text.value);
  };
  const check = async () => {
    show(out, h("p.muted", t("loading")));
    show(msg, null);
    try {
      const c = await api("POST", "/versions", { source: fullText(), file_name: base.file_name, dry_run: true });
      show(out, h("div", notice(c.diff ? t("check_ok") : t("check_no_change")), diffView(c.diff)));
      return c;
    } catch (e) {
      show(out, problemBox(e));
      return null;
    }
  };
  const save = async () => {
    show(msg, null);
    saveBtn.disabled = true;
    try {
      // The API stores whole versions without a precondition: refuse here
      // when someone else stored one since this editor opened.
      const now = await api("GET", "/versions?limit=1");
      if (now.current !== base.version) {
        show(out, problemBox(new ApiError({ status: 409, title: "Conflict", detail: t("editor_stale", { base: base.version, now: now.current }) })));
        return;
      }
      const change = await api("POST", "/versions", { source: fullText(), file_name: base.file_name });
      draft = null;
      setFlash(change.created ? t("saved_version", { n: change.version.version }) : t("check_no_change"));
      await render();
    } catch (e) {
      show(out, problemBox(e));
    } finally {
      saveBtn.disabled = false;
    }
  };
  const title = what.whole ? t("dialplan_edit_whole") : what.add ? t("rule_new") : t("rule_edit_title", { name: what.name });
  const saveBtn = h("button.primary#rule-save", { type: "button", onclick: save }, t("save_version"));
  clear(slot);
  slot.append(h("section.card.editor",
    h("h2", title),
    h("p.hint", t(what.whole ? "editor_hint_whole" : "editor_hint_rule", { v: base.version ?? "—" })),
    msg,
    text,
    h("div.actions",
      h("button#rule-check", { type: "button", onclick: check }, t("check")),
      saveBtn,
      h("button#rule-cancel", {
        type: "button",
        onclick: () => {
          draft = null;
          clear(slot);
        },
      }, t("cancel"))),
    out));
  text.focus();
  slot.scrollIntoView({ block: "nearest" });
}

function diffView(diff) {
  if (!diff) return null;
  return h("pre.diff", diff.split("\n").map((l) => h(`span.${l.startsWith("+") ? "add" : l.startsWith("-") ? "del" : l.startsWith("@@") ? "hunk" : "ctx"}`, `${l}\n`)));
}

async function versionsPanel(slot, mayRestore) {
  const list = await api("GET", "/versions?limit=20");
  const out = h("div.msg");
  slot.append(h("h2", t("versions")), out, h("table.data#versions-table",
    h("thead", h("tr", ["col_version", "col_file", "col_time", "", ""].map((k) => h("th", k ? t(k) : "")))),
    h("tbody", list.versions.map((v, i) => h("tr",
      h("td", String(v.version), v.version === list.current ? h("span.badge.badge-approved", ` ${t("current")}`) : null),
      h("td", v.file_name),
      h("td", when(v.imported_at_unix)),
      h("td", list.versions[i + 1] ? h("button", {
        type: "button",
        onclick: async () => {
          try {
            const d = await api("GET", `/versions/${list.versions[i + 1].version}/diff/${v.version}`);
            show(out, h("div", h("h3", t("diff_title", { a: d.from, b: d.to })), diffView(d.diff) || h("p.muted", t("check_no_change"))));
          } catch (e) {
            show(out, problemBox(e));
          }
        },
      }, t("show_diff")) : null),
      h("td", mayRestore && v.version !== list.current ? h("button", {
        type: "button",
        onclick: async () => {
          if (!confirm(t("restore_confirm", { n: v.version }))) return;
          try {
            const c = await api("POST", `/versions/${v.version}/restore`);
            setFlash(t("saved_version", { n: c.version.version }));
            render();
          } catch (e) {
            show(out, problemBox(e));
          }
        },
      }, t("restore")) : null))))));
}

// ---------------------------------------------------------------- audit

function jsonCell(v) {
  if (v === null || v === undefined) return "";
  return h("details", h("summary", t("show")), h("pre.json", JSON.stringify(v, null, 2)));
}

async function auditView(main, _p, params, current) {
  const kind = h("input#audit-kind", { value: params.get("object_kind") || "", placeholder: "endpoint" });
  const id = h("input#audit-id", { value: params.get("object_id") || "" });
  const limit = h("select#audit-limit", ["100", "500", "1000"].map((n) => h("option", { value: n, selected: n === (params.get("limit") || "100") }, n)));
  main.append(h("h1", t("nav_audit")), h("form.toolbar", {
    onsubmit: (ev) => {
      ev.preventDefault();
      const q = new URLSearchParams();
      if (kind.value.trim()) q.set("object_kind", kind.value.trim());
      if (id.value.trim()) q.set("object_id", id.value.trim());
      q.set("limit", limit.value);
      location.hash = `#/audit?${q}`;
    },
  }, h("label", t("col_object_kind"), kind), h("label", t("col_object_id"), id), h("label", t("limit"), limit), h("button", { type: "submit" }, t("filter"))));
  const q = new URLSearchParams();
  for (const k of ["object_kind", "object_id", "limit"]) if (params.get(k)) q.set(k, params.get(k));
  const rows = await api("GET", `/audit?${q}`);
  if (!current()) return;
  if (!rows.length) return main.append(h("p.empty", t("nothing")));
  main.append(h("table.data#audit",
    h("thead", h("tr", ["col_time", "col_actor", "col_action", "col_object_kind", "col_object_id", "unit", "col_before", "col_after"].map((k) => h("th", t(k))))),
    h("tbody", rows.map((r) => h("tr",
      h("td", whenMs(r.at_ms)),
      h("td", r.actor, h("div.muted", roleLabel(r.actor_role))),
      h("td", h("code", r.action)),
      h("td", r.object_kind),
      h("td", r.object_kind === "endpoint" ? h("a", { href: `#/endpoints/${encodeURIComponent(r.object_id)}` }, r.object_id) : r.object_id),
      h("td", r.unit ? unitLabel(r.unit) : "—"),
      h("td", jsonCell(r.before)),
      h("td", jsonCell(r.after)))))));
}

// ----------------------------------------------------------------- start

window.addEventListener("hashchange", () => {
  draft = null;
  render();
});
render();
