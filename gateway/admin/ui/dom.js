// What every screen uses: building DOM nodes (text from the API only ever
// as text nodes, never as HTML), formatting, unit names, messages.

import { api, ApiError } from "./api.js";
import { getLang, t } from "./i18n.js";

/** h("tag.class#id", {attrs, on*: handlers}, ...children) */
export function h(spec, attrs, ...children) {
  const m = /^([a-z0-9]+)?((?:[.#][\w-]+)*)$/i.exec(spec);
  const el = document.createElement((m && m[1]) || "div");
  if (m && m[2]) {
    for (const part of m[2].match(/[.#][\w-]+/g)) {
      if (part[0] === ".") el.classList.add(part.slice(1));
      else el.id = part.slice(1);
    }
  }
  if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "value") el.value = v;
    else if (k === "checked") el.checked = !!v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
}

// ---------------------------------------------------------- formatting

function locale() {
  return getLang() === "vi" ? "vi-VN" : "en-GB";
}

export function when(unix) {
  if (unix === null || unix === undefined) return "—";
  return new Date(unix * 1000).toLocaleString(locale(), { dateStyle: "short", timeStyle: "medium" });
}

export function whenMs(ms) {
  return new Date(ms).toLocaleString(locale(), { dateStyle: "short", timeStyle: "medium" });
}

// Unit names by "STRUCTURE/CODE", loaded after login.
let unitNames = new Map();
let unitNamesFetched = false;

export function unitLabel(u) {
  if (!u) return t("none");
  if (typeof u === "string") {
    // A bare dialplan code: named from the newer structure when it has it.
    if (u.includes("/")) return unitNames.has(u) ? `${unitNames.get(u)} (${u})` : u;
    const key = ["2025", "2024"].map((s) => `${s}/${u}`).find((k) => unitNames.has(k));
    return key ? `${unitNames.get(key)} (${u})` : u;
  }
  const key = `${u.structure}/${u.code}`;
  const name = unitNames.get(key);
  return name ? `${name} (${key})` : key;
}

export function yesNo(b) {
  return b ? t("yes") : t("no");
}

export function badge(state) {
  return h(`span.badge.badge-${state}`, t(`vetting_${state}`));
}

export function roleLabel(role) {
  const key = `role_${String(role).replace(/-/g, "_")}`;
  const label = t(key);
  return label === key ? String(role) : label;
}

// ------------------------------------------------------------- messages

/** A box saying what the API refused and why (RFC 9457 problem). */
export function problemBox(err) {
  const p = err instanceof ApiError ? err.problem : { title: t("error"), detail: String(err && err.message || err) };
  if (!(err instanceof ApiError)) console.error(err);
  // The status's phrase in the page's language; the API's detail as is.
  const phrase = p.status && t(`status_${p.status}`) !== `status_${p.status}` ? t(`status_${p.status}`) : p.title || "";
  const title = p.network
    ? t("err_network")
    : `${t("error")} ${p.status ? p.status : ""} — ${phrase}`;
  return h("div.problem", { role: "alert" },
    h("strong", title),
    p.detail ? h("pre.detail", p.detail) : null,
    p.field ? h("div", `${t("field")}: `, h("code", p.field)) : null,
    Array.isArray(p.errors) && p.errors.length
      ? h("ul.issues", p.errors.map((e) => h("li", h("code", `${e.file}:${e.line}:${e.column}`), ` ${e.field}: ${e.message}`)))
      : null,
    p.status === 403 ? h("div.hint", t("err_forbidden_hint")) : null,
  );
}

export function notice(text) {
  return h("div.notice", { role: "status" }, text);
}

/** Replaces the content of `slot` with `node` (a message box). */
export function show(slot, node) {
  clear(slot);
  if (node) slot.append(node);
}

export function dl(pairs) {
  return h("dl.kv", pairs.filter(Boolean).map(([k, v]) => [h("dt", k), h("dd", v)]));
}

// A message to show once after the next render (e.g. "approved").
let flash = null;

export function setFlash(text) {
  flash = text;
}

export function takeFlash(main) {
  if (flash) {
    main.append(notice(flash));
    flash = null;
  }
}

export function unitNamesLoaded() {
  return unitNamesFetched;
}

export function forgetUnitNames() {
  unitNames = new Map();
  unitNamesFetched = false;
}

export async function loadUnitNames() {
  unitNamesFetched = true;
  try {
    const units = await api("GET", "/units?flat=true");
    unitNames = new Map(units.map((u) => [`${u.structure}/${u.code}`, u.name]));
  } catch {
    // Names are a convenience: codes are shown instead.
  }
}

/** Every unit the actor sees, as [key "STRUCTURE/CODE", name], newer
 * structure first (for the unit pickers of the forms). */
export function unitChoices() {
  return [...unitNames.entries()].sort(([a], [b]) => (a.slice(0, 4) === b.slice(0, 4) ? 0 : a < b ? 1 : -1));
}

/** A unit as the forms take it: "STRUCTURE/CODE", a bare code (the newer
 * structure that has it), or a picker's "Name (STRUCTURE/CODE)". Null when
 * it names no unit the actor sees. */
export function parseUnit(text) {
  const s = text.trim();
  const m = /(?:^|\()(\d{4})\/(\d{1,16})\)?$/.exec(s);
  if (m) return { structure: m[1], code: m[2] };
  if (/^\d{1,16}$/.test(s)) {
    const key = ["2025", "2024"].map((st) => `${st}/${s}`).find((k) => unitNames.has(k));
    if (key) return { structure: key.slice(0, 4), code: s };
  }
  return null;
}

export function unitKey(u) {
  return u ? `${u.structure}/${u.code}` : "";
}

/** A local refusal in the API's terms, shown like the API's own. */
export function localProblem(field, detail) {
  return new ApiError({ status: 422, title: "Unprocessable Entity", detail, field });
}

/** Marks the inputs a problem names (`data-field` equal to the problem's
 * field or under it) and clears the others of `form`. */
export function markFields(form, err) {
  const field = err instanceof ApiError ? err.problem.field : null;
  for (const el of form.querySelectorAll("[data-field]")) {
    const f = el.getAttribute("data-field");
    const bad = !!field && (field === f || field.startsWith(`${f}.`) || field.startsWith(`${f}[`));
    if (bad) el.setAttribute("aria-invalid", "true");
    else el.removeAttribute("aria-invalid");
  }
}
