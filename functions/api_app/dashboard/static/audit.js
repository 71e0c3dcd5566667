// Audit: the latest entries, optionally of one action, and the hash chain's verification over every page read.
// GET /audit-log (the API lets researchers and admins read it).

import { form, field, guarded, h, table } from "./dom.js";

const ACTIONS = ["run.started", "setup.merged", "budget.gate", "spoke.failed", "update.rejected", "round.aggregated",
  "round.quorum_not_met", "run.finished", "run.start_requested", "run.stop_requested", "budget.limit_set",
  "budget.reset"];
const PAGE = 500;
const MAX_PAGES = 40;
const SHOWN = 50;

// Reads the log from the start, page by page, verifying each page's stretch of the chain; keeps the newest entries.
export async function latestEntries(api, action, shown = SHOWN) {
  let after = 0;
  let entries = [];
  let verification = { ok: true, checked: 0, first_bad_seq: null, reason: "" };
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const result = await api.get("audit-log", { after_seq: after, limit: PAGE, action, verify: true });
    entries = entries.concat(result.entries).slice(-shown);
    const check = result.verification;
    if (check) {
      verification.checked += check.checked;
      if (!check.ok && verification.ok) verification = { ...verification, ok: false, first_bad_seq: check.first_bad_seq, reason: check.reason };
    }
    if (result.next_after_seq === null) return { entries, verification, complete: true };
    after = result.next_after_seq;
  }
  return { entries, verification, complete: false };
}

export function render(section, ctx) {
  const out = h("div", { id: "audit" });
  const select = h("select", { name: "action" }, h("option", { value: "" }, "all actions"),
    ACTIONS.map((a) => h("option", { value: a }, a)));

  async function load(action) {
    const { entries, verification, complete } = await latestEntries(ctx.api, action || undefined);
    const verdict = verification.ok
      ? `Hash chain verified over ${verification.checked} entries${complete ? "" : " (first pages only)"}.`
      : `Hash chain broken at entry ${verification.first_bad_seq}: ${verification.reason}`;
    out.replaceChildren(
      h("p", { id: "chain-check", class: verification.ok ? "ok" : "error" }, verdict),
      table(["seq", "time", "actor", "action", "details"], entries.slice().reverse().map((e) => [
        e.seq, e.timestamp, e.actor, e.action, h("td", { class: "details" }, h("code", {}, JSON.stringify(e.details)))]), { id: "audit-table" }));
  }

  section.replaceChildren(h("h2", {}, "Audit log"),
    form([field("Action", select)], "Filter", (data) => load(data.get("action"))), out);
  guarded(() => load(""));
}
