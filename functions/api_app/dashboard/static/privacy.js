// Privacy: each hospital's epsilon against its limit (>= 90% stands out), the remaining-rounds estimate,
// budget periods, and epsilon over the rounds of a run. GET /privacy-budget, GET /runs, GET /runs/{id};
// admins also POST /privacy-budget/set-limit and /privacy-budget/reset.

import { lineChart } from "./charts.js";
import { field, fmt, form, guarded, h, table } from "./dom.js";

export const NEAR_LIMIT = 0.9;

export function usedFraction(budget) {
  return budget.limit ? budget.spent / budget.limit : null;
}

function adminForms(ctx, spokes, reload) {
  const options = () => spokes.map((s) => h("option", { value: s }, s));
  return h("details", { class: "admin" }, h("summary", {}, "Change a budget (admin)"),
    form([field("Hospital", h("select", { name: "spoke" }, options())),
      field("Epsilon limit", h("input", { name: "epsilon_limit", type: "number", step: "any", min: "0", required: true })),
      field("Reason", h("input", { name: "reason", maxlength: 500 }))], "Set limit", async (data) => {
      await ctx.api.post("privacy-budget/set-limit", { spoke: data.get("spoke"), epsilon_limit: Number(data.get("epsilon_limit")),
        reason: data.get("reason") || null });
      await reload();
    }, { id: "set-limit" }),
    form([field("Hospital", h("select", { name: "spoke" }, options())),
      field("Reason (recorded in the audit log)", h("input", { name: "reason", required: true, maxlength: 500 }))],
    "Open a new budget period", async (data) => {
      await ctx.api.post("privacy-budget/reset", { spoke: data.get("spoke"), reason: data.get("reason") });
      await reload();
    }, { id: "reset-budget" }),
    h("p", { class: "note" }, "A reset does not restore privacy already spent; lifetime epsilon keeps counting it."));
}

export function render(section, ctx) {
  const budgets = h("div", { id: "budgets" });
  const chartTitle = h("h3", {});
  const chart = h("div", { class: "chart", id: "epsilon-chart" });
  section.replaceChildren(h("h2", {}, "Privacy budget"), budgets, chartTitle, chart);

  async function load() {
    const list = await guarded(() => ctx.api.get("privacy-budget"));
    if (!list) return;
    const rows = list.spokes.map((b) => {
      const used = usedFraction(b);
      const near = used !== null && used >= NEAR_LIMIT;
      const meter = used === null ? "–" : h("meter", { min: 0, max: 1, high: NEAR_LIMIT, value: Math.min(used, 1) });
      return [h("td", { class: near ? "near-limit" : "" }, b.spoke, near ? " ⚠ ≥ 90% of limit" : ""),
        fmt(b.spent), fmt(b.limit), h("td", {}, meter, used === null ? "" : ` ${Math.round(used * 100)}%`),
        fmt(b.lifetime_spent), b.period, b.resets, b.estimated_remaining_rounds ?? "unknown"];
    });
    budgets.replaceChildren(
      table(["hospital", "spent", "limit", "used", "lifetime", "period", "resets", "rounds left (est.)"], rows,
        { id: "budget-table" }),
      ctx.admin ? adminForms(ctx, list.spokes.map((b) => b.spoke), load) : "");
    await epsilonOverRounds(list.spokes);
  }

  async function epsilonOverRounds(spokes) {
    const page = await guarded(() => ctx.api.get("runs", { limit: 1 }));
    if (!page || !page.runs.length) return;
    const run = await guarded(() => ctx.api.get(`runs/${encodeURIComponent(page.runs[0].run_id)}`));
    if (!run) return;
    const values = run.metrics.flatMap((m) => Object.entries(m.epsilon).map(([s, e]) => ({ x: m.round, y: e, series: s })));
    const rules = spokes.filter((b) => b.limit !== null).map((b) => ({ y: b.limit, series: b.spoke }));
    if (values.length) {
      await lineChart(chart, values, { title: "Epsilon per hospital (dashed: limit)", yTitle: "epsilon", rules });
      chartTitle.textContent = `Epsilon over the rounds of run ${run.run_id}`;
    }
  }

  load();
}
