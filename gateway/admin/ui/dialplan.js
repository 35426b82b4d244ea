// Finding and replacing one [[rule]] table in a dialplan's TOML text, so a
// rule can be edited on its own while the API stores whole versions. The
// text is never re-serialised: comments and layout elsewhere stay as they
// are, and the gateway validates the result (dry run) before it is stored.

const HEADER = /^\s*\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?\s*(#.*)?$/;

function tableOf(line) {
  const m = HEADER.exec(line);
  return m ? m[1] : null;
}

function ruleName(lines) {
  for (const l of lines) {
    const m = /^\s*name\s*=\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)')/.exec(l);
    if (m) {
      if (m[2] !== undefined) return m[2];
      try {
        return JSON.parse(`"${m[1]}"`);
      } catch {
        return m[1];
      }
    }
  }
  return null;
}

/** The [[rule]] tables in file order: {index, name, start, end} with
 * lines [start, end) of the text. Comment and blank lines right before the
 * next table stay with that table (they usually describe it). */
export function ruleBlocks(source) {
  const lines = source.split("\n");
  const heads = [];
  let inMultiline = null;
  lines.forEach((l, i) => {
    // A header-looking line inside a multi-line string is not a header.
    if (inMultiline) {
      if (l.includes(inMultiline)) inMultiline = null;
      return;
    }
    const t = tableOf(l);
    if (t !== null) heads.push({ table: t, array: /^\s*\[\[/.test(l), line: i });
    for (const q of ['"""', "'''"]) {
      const n = l.split(q).length - 1;
      if (n % 2 === 1) inMultiline = q;
    }
  });
  const blocks = [];
  heads.forEach((h, k) => {
    if (!(h.array && h.table === "rule")) return;
    let end = k + 1 < heads.length ? heads[k + 1].line : lines.length;
    while (end > h.line + 1 && /^\s*(#.*)?$/.test(lines[end - 1])) end--;
    blocks.push({ index: blocks.length, start: h.line, end, name: ruleName(lines.slice(h.line, end)) });
  });
  return blocks;
}

export function blockText(source, block) {
  return source.split("\n").slice(block.start, block.end).join("\n");
}

/** The rule at `position` if its name matches, else the rule by name. */
export function findRule(source, position, name) {
  const blocks = ruleBlocks(source);
  const at = blocks[position];
  if (at && at.name === name) return at;
  return blocks.find((b) => b.name === name) || null;
}

/** The text with `block` replaced by `text` (empty text removes it). */
export function replaceBlock(source, block, text) {
  const lines = source.split("\n");
  const repl = text.replace(/\s+$/, "");
  const middle = repl === "" ? [] : repl.split("\n");
  return [...lines.slice(0, block.start), ...middle, ...lines.slice(block.end)].join("\n");
}

/** The text with a new table appended at the end. */
export function appendBlock(source, text) {
  const base = source.replace(/\s+$/, "");
  return `${base}\n\n${text.replace(/\s+$/, "")}\n`;
}

export const NEW_RULE_TEMPLATE = `[[rule]]
name = "new-rule"
match = { prefix = "9" }
action = "reject"
status = 403
reason = "Forbidden"`;
