// Creating and changing an endpoint: one form over POST /endpoints and
// PATCH /endpoints/{id}. A change sends only what differs from the endpoint
// as it was loaded: a contact sent is a replacement (the API keeps the
// history), a password sent replaces the credentials.

import { api, getSession } from "./api.js";
import { t } from "./i18n.js";
import { append, h, localProblem, markFields, parseUnit, problemBox, setFlash, show, unitChoices, unitKey } from "./dom.js";

const CONTACT_ROLES = ["office_lead", "technical_officer"];
const PROTOCOLS = ["sip", "h323", "webrtc"];

/** The roles the API lets change endpoints. */
export function mayEditEndpoints() {
  const s = getSession();
  return !!s && (s.role === "city-admin" || s.role === "unit-admin");
}

/** A datalist of the units the actor sees, for the unit inputs. */
export function unitDatalist(id) {
  return h(`datalist#${id}`, unitChoices().map(([key, name]) => h("option", { value: key }, name)));
}

/** A labelled input; `data-field` is the API's name for it, so that a
 * problem naming the field marks it. */
export function field(label, input, hint) {
  return h("label.field", h("span.label", label), input, hint ? h("span.hint", hint) : null);
}

function listOf(text) {
  return text.split(/[\s,;]+/).map((x) => x.trim()).filter(Boolean);
}

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** `id` null: a new endpoint. */
export async function endpointForm(main, id, current) {
  const editing = id !== null;
  const e = editing ? await api("GET", `/endpoints/${encodeURIComponent(id)}`) : null;
  if (!current()) return;
  const session = getSession();
  const input = (name, dataField, attrs) => h(`input#ep-form-${name}`, { name, "data-field": dataField, ...attrs });

  const idIn = input("id", "id", { required: true, value: e ? e.id : "", disabled: editing, autocomplete: "off", maxlength: 64 });
  const unitIn = input("unit", "unit", {
    required: true,
    list: "ep-form-units",
    autocomplete: "off",
    value: e ? unitKey(e.unit) : session.unit ? unitKey(session.unit) : "",
  });
  const displayIn = input("display", "display", { value: e ? e.display || "" : "", maxlength: 200 });
  const protocolIn = h("select#ep-form-protocol", { name: "protocol", "data-field": "protocol" },
    PROTOCOLS.map((p) => h("option", { value: p, selected: e ? e.protocol === p : p === "sip" }, p.toUpperCase())));
  const numbersIn = input("numbers", "numbers", { value: e ? e.numbers.join(", ") : "", inputmode: "tel", autocomplete: "off" });
  const aliasesIn = input("aliases", "aliases", { value: e ? e.aliases.join(", ") : "", autocomplete: "off" });
  const fixedIn = input("fixed-address", "fixed_address", { value: e ? e.fixed_address || "" : "", placeholder: "sip:192.0.2.10:5060" });
  const passwordIn = input("password", "credentials", { type: "password", autocomplete: "new-password" });
  const contactIns = {};
  for (const role of CONTACT_ROLES) {
    const c = e && e.contacts[role];
    const slug = role.replace(/_/g, "-");
    contactIns[role] = {
      name: input(`${slug}-name`, `contacts.${role}.name`, { value: c ? c.name : "", maxlength: 200 }),
      phone: input(`${slug}-phone`, `contacts.${role}.phone`, { value: c ? c.phone || "" : "", type: "tel" }),
      email: input(`${slug}-email`, `contacts.${role}.email`, { value: c ? c.email || "" : "", type: "email" }),
    };
  }
  const dueIn = e && e.device
    ? input("maintenance-due", "maintenance_due", { type: "date", value: e.device.maintenance_due || "" })
    : null;
  const msg = h("div.msg");
  const submit = h("button.primary#ep-form-submit", { type: "submit" }, editing ? t("save") : t("endpoint_create"));

  const unitOf = () => {
    const u = parseUnit(unitIn.value);
    if (!u) throw localProblem("unit", t("form_unit_invalid"));
    return u;
  };
  const contactOf = (role) => {
    const x = contactIns[role];
    const name = x.name.value.trim();
    if (!name) return null;
    return { name, phone: x.phone.value.trim() || null, email: x.email.value.trim() || null };
  };

  const newBody = () => {
    const body = {
      id: idIn.value.trim(),
      unit: unitOf(),
      protocol: protocolIn.value,
      numbers: listOf(numbersIn.value),
      aliases: listOf(aliasesIn.value),
    };
    if (displayIn.value.trim()) body.display = displayIn.value.trim();
    if (fixedIn.value.trim()) body.fixed_address = fixedIn.value.trim();
    if (passwordIn.value) body.credentials = { password: passwordIn.value };
    const contacts = {};
    for (const role of CONTACT_ROLES) {
      const c = contactOf(role);
      if (c) contacts[role] = c;
    }
    body.contacts = contacts;
    return body;
  };

  const patchBody = () => {
    const p = {};
    const unit = unitOf();
    if (unitKey(unit) !== unitKey(e.unit)) p.unit = unit;
    const display = displayIn.value.trim() || null;
    if (display !== (e.display ?? null)) p.display = display;
    if (protocolIn.value !== e.protocol) p.protocol = protocolIn.value;
    const numbers = listOf(numbersIn.value);
    if (!same(numbers, e.numbers)) p.numbers = numbers;
    const aliases = listOf(aliasesIn.value);
    if (!same(aliases, e.aliases)) p.aliases = aliases;
    const fixed = fixedIn.value.trim() || null;
    if (fixed !== (e.fixed_address ?? null)) p.fixed_address = fixed;
    if (passwordIn.value) p.credentials = { password: passwordIn.value };
    const contacts = {};
    for (const role of CONTACT_ROLES) {
      const c = contactOf(role);
      const was = e.contacts[role];
      if (!c) {
        if (was) throw localProblem(`contacts.${role}.name`, t("form_contact_needed"));
        continue;
      }
      if (!was || !same([c.name, c.phone, c.email], [was.name, was.phone ?? null, was.email ?? null])) contacts[role] = c;
    }
    if (Object.keys(contacts).length) p.contacts = contacts;
    if (dueIn) {
      const due = dueIn.value || null;
      if (due !== (e.device.maintenance_due ?? null)) p.maintenance_due = due;
    }
    return p;
  };

  const form = h("form.form#endpoint-form", {
    novalidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault();
      show(msg, null);
      submit.disabled = true;
      try {
        let saved;
        if (editing) {
          const p = patchBody();
          if (!Object.keys(p).length) {
            show(msg, h("div.notice", { role: "status" }, t("no_change")));
            markFields(form, null);
            return;
          }
          saved = await api("PATCH", `/endpoints/${encodeURIComponent(e.id)}`, p);
        } else {
          saved = await api("POST", "/endpoints", newBody());
        }
        setFlash(t(editing ? "endpoint_saved_msg" : "endpoint_created_msg", { id: saved.id }));
        location.hash = `#/endpoints/${encodeURIComponent(saved.id)}`;
      } catch (err) {
        markFields(form, err);
        show(msg, problemBox(err));
      } finally {
        submit.disabled = false;
      }
    },
  },
  h("fieldset",
    h("legend", t("section_endpoint")),
    field(t("col_id"), idIn, editing ? null : t("form_id_hint")),
    field(t("unit"), unitIn, t("form_unit_hint")),
    field(t("col_display"), displayIn),
    field(t("col_protocol"), protocolIn),
    field(t("col_numbers"), numbersIn, t("form_list_hint")),
    field(t("col_aliases"), aliasesIn, t("form_list_hint")),
    field(t("fixed_address"), fixedIn, t("form_fixed_hint")),
    field(t("credentials_password"), passwordIn, t(editing ? "form_password_hint_edit" : "form_password_hint_new"))),
  CONTACT_ROLES.map((role) => h(`fieldset.contact-${role.replace(/_/g, "-")}`,
    h("legend", t(`contact_${role}`)),
    field(t("col_name"), contactIns[role].name),
    field(t("col_phone"), contactIns[role].phone),
    field(t("col_email"), contactIns[role].email))),
  editing ? h("p.hint", t("form_contact_hint")) : null,
  dueIn ? h("fieldset", h("legend", t("device")), field(t("maintenance_due"), dueIn)) : null,
  unitDatalist("ep-form-units"),
  msg,
  h("div.actions",
    submit,
    h("a.button#ep-form-cancel", { href: editing ? `#/endpoints/${encodeURIComponent(e.id)}` : "#/endpoints" }, t("cancel"))));

  append(main, [
    h("p", h("a", { href: editing ? `#/endpoints/${encodeURIComponent(e.id)}` : "#/endpoints" }, `← ${editing ? e.id : t("nav_endpoints")}`)),
    h("h1", editing ? t("endpoint_edit_title", { id: e.id }) : t("endpoint_new_title")),
    editing ? null : h("p.hint", t("endpoint_new_hint")),
    form,
  ]);
  (editing ? displayIn : idIn).focus();
}
