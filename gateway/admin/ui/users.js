// Users: the ones the actor may see and, for administrators, forms to
// create a user and to change a user's role, unit scope or state (POST
// /users, PATCH /users/{name}). The API decides; the forms only offer what
// it would allow (the roles the actor may give, never its own account).

import { api, getSession } from "./api.js";
import { t } from "./i18n.js";
import {
  append, h, localProblem, markFields, parseUnit, problemBox, roleLabel, setFlash, show, takeFlash, unitKey, unitLabel, when,
} from "./dom.js";
import { field, unitDatalist } from "./endpoint_form.js";

const ROLES = ["city-admin", "unit-admin", "operator", "security-reviewer", "auditor"];

/** The roles `actor` may give (as the API's Role::may_create). */
function givable(actor) {
  if (actor === "city-admin") return ROLES;
  if (actor === "unit-admin") return ["unit-admin", "operator", "auditor"];
  return [];
}

function roleSelect(id, roles, selected) {
  return h(`select#${id}`, { "data-field": "role" },
    roles.map((r) => h("option", { value: r, selected: r === selected }, roleLabel(r))));
}

/** An empty unit is the whole network (null); otherwise a unit the actor
 * sees. */
function scopeOf(input) {
  if (!input.value.trim()) return null;
  const u = parseUnit(input.value);
  if (!u) throw localProblem("unit", t("form_unit_invalid"));
  return u;
}

export async function usersView(main, _parts, _params, current, rerender) {
  const session = getSession();
  const roles = givable(session.role);
  const admin = roles.length > 0;
  main.append(h("h1", t("nav_users")));
  takeFlash(main);
  const users = await api("GET", "/users");
  if (!current()) return;
  const editor = h("div#user-editor");
  const mayEdit = (u) => admin && u.name !== session.user && roles.includes(u.role);
  append(main, [
    admin ? null : h("p.hint#users-readonly", t("users_readonly")),
    h("p.muted", t("count", { n: users.length })),
    h("table.data#users",
      h("thead", h("tr", ["login_user", "col_role", "user_scope", "user_state", "created", "col_created_by", ""].map((k) => h("th", k ? t(k) : "")))),
      h("tbody", users.map((u) => h("tr", { "data-user": u.name },
        h("td", h("strong", u.name), u.name === session.user ? h("span.muted", ` (${t("you")})`) : null),
        h("td", roleLabel(u.role)),
        h("td", u.unit ? unitLabel(u.unit) : t("whole_network")),
        h("td", u.disabled ? h("span.badge.badge-suspended", t("user_disabled")) : h("span.badge.badge-approved", t("user_enabled"))),
        h("td", when(u.created_at_unix)),
        h("td", u.created_by),
        h("td", mayEdit(u)
          ? h("button.edit", { type: "button", "data-edit-user": u.name, onclick: () => openUserEditor(editor, u, roles, rerender) }, t("edit"))
          : null))))),
    editor,
    admin ? newUserForm(session, roles, rerender) : null,
    admin ? unitDatalist("user-units") : null,
  ]);
}

function newUserForm(session, roles, rerender) {
  const msg = h("div.msg");
  const name = h("input#user-new-name", { "data-field": "name", autocomplete: "off", required: true, maxlength: 64 });
  const password = h("input#user-new-password", { "data-field": "password", type: "password", autocomplete: "new-password", required: true });
  const role = roleSelect("user-new-role", roles, "operator");
  const unit = h("input#user-new-unit", {
    "data-field": "unit",
    list: "user-units",
    autocomplete: "off",
    value: session.unit ? unitKey(session.unit) : "",
  });
  const submit = h("button.primary#user-new-submit", { type: "submit" }, t("user_create"));
  const form = h("form.form#user-new-form", {
    novalidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault();
      show(msg, null);
      submit.disabled = true;
      try {
        const body = { name: name.value.trim(), password: password.value, role: role.value };
        const scope = scopeOf(unit);
        if (scope) body.unit = scope;
        const u = await api("POST", "/users", body);
        setFlash(t("user_created_msg", { name: u.name }));
        rerender();
      } catch (err) {
        markFields(form, err);
        show(msg, problemBox(err));
      } finally {
        submit.disabled = false;
      }
    },
  },
  h("fieldset",
    h("legend", t("users_new")),
    field(t("login_user"), name, t("user_name_hint")),
    field(t("login_password"), password, t("user_password_hint")),
    field(t("col_role"), role),
    field(t("user_scope"), unit, t("user_scope_hint"))),
  msg,
  h("div.actions", submit));
  return h("section.card#user-new", form);
}

function openUserEditor(slot, u, roles, rerender) {
  const msg = h("div.msg");
  const role = roleSelect("user-edit-role", roles, u.role);
  const unit = h("input#user-edit-unit", { "data-field": "unit", list: "user-units", autocomplete: "off", value: unitKey(u.unit) });
  const disabled = h("input#user-edit-disabled", { type: "checkbox", "data-field": "disabled", checked: u.disabled });
  const save = h("button.primary#user-edit-save", { type: "submit" }, t("save"));
  const form = h("form.form#user-edit-form", {
    novalidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault();
      show(msg, null);
      save.disabled = true;
      try {
        const p = {};
        if (role.value !== u.role) p.role = role.value;
        const scope = scopeOf(unit);
        if (unitKey(scope) !== unitKey(u.unit)) p.unit = scope;
        if (disabled.checked !== u.disabled) p.disabled = disabled.checked;
        if (!Object.keys(p).length) {
          show(msg, h("div.notice", { role: "status" }, t("no_change")));
          return;
        }
        await api("PATCH", `/users/${encodeURIComponent(u.name)}`, p);
        setFlash(t("user_saved_msg", { name: u.name }));
        rerender();
      } catch (err) {
        markFields(form, err);
        show(msg, problemBox(err));
      } finally {
        save.disabled = false;
      }
    },
  },
  h("fieldset",
    h("legend", t("user_edit_title", { name: u.name })),
    field(t("col_role"), role),
    field(t("user_scope"), unit, t("user_scope_hint")),
    h("label.check", disabled, t("user_disable"))),
  h("p.hint", t("user_disable_hint")),
  msg,
  h("div.actions", save, h("button#user-edit-cancel", { type: "button", onclick: () => show(slot, null) }, t("cancel"))));
  show(slot, h("section.card.editor", form));
  role.focus();
  slot.scrollIntoView({ block: "nearest" });
}
