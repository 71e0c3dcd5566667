// Runs: status, progress of the current round, the round metrics as charts and numbers, and who took part.
// GET /runs, GET /runs/{id}; admins also POST /runs and POST /runs/{id}/stop.

import { ApiError } from "./api.js";
import { lineChart } from "./charts.js";
import { field, fmt, form, guarded, h, table } from "./dom.js";

export const ACTIVE = new Set(["STARTING", "RUNNING"]);
const POLL_MS = 3000;

// The round's noisy metrics worth a chart: the training loss and every numeric validation metric.
export function roundSeries(metrics) {
  const values = [];
  for (const m of metrics) {
    if (typeof m.loss === "number") values.push({ x: m.round, y: m.loss, series: "loss" });
    for (const [name, value] of Object.entries(m.validation || {})) {
      if (typeof value === "number" && Number.isFinite(value) && !name.includes("round")) {
        values.push({ x: m.round, y: value, series: name });
      }
    }
  }
  return values;
}

function participation(spoke, m) {
  if (m.spokes.includes(spoke)) return "reported";
  if (m.failed.includes(spoke)) return "failed";
  if (spoke in m.rejected) return `rejected: ${m.rejected[spoke]}`;
  return "dropped";
}

function startForm(ctx, reload) {
  const body = h("textarea", { name: "body", rows: 3, spellcheck: "false" }, '{"rounds": 3}');
  return h("details", { class: "admin" }, h("summary", {}, "Start a run (admin)"),
    form([field("Run settings (JSON, as POST /runs takes them)", body)], "Start run", async (data) => {
      let settings;
      try {
        settings = JSON.parse(data.get("body"));
      } catch {
        throw new ApiError(0, "invalid_json", "the run settings are not valid JSON");
      }
      const started = await ctx.api.post("runs", settings);
      await reload(started.run_id);
    }, { id: "start-run" }));
}

export function render(section, ctx) {
  let timer = null;
  let closed = false;
  const list = h("div", { id: "run-list" });
  const detail = h("div", { id: "run-detail" });
  section.replaceChildren(h("h2", {}, "Runs"), ctx.admin ? startForm(ctx, (id) => loadList(id)) : "", list, detail);

  async function loadList(selected) {
    const page = await guarded(() => ctx.api.get("runs", { limit: 20 }));
    if (!page || closed) return;
    if (!page.runs.length) {
      list.replaceChildren(h("p", {}, "No runs yet."));
      return;
    }
    list.replaceChildren(table(["run", "status", "round", "model"], page.runs.map((run) => [
      h("button", { type: "button", class: "link", onclick: () => showRun(run.run_id) }, run.run_id),
      run.status, `${run.current_round} / ${run.rounds ?? "?"}`, run.model_version ?? "–"])));
    await showRun(selected || page.runs[0].run_id);
  }

  let latestShow = 0; // an answer that arrives after a later choice's (or poll's) is dropped, not drawn over it
  async function showRun(runId) {
    clearTimeout(timer);
    const mine = ++latestShow;
    const run = await guarded(() => ctx.api.get(`runs/${encodeURIComponent(runId)}`));
    if (!run || closed || mine !== latestShow) return;
    const active = ACTIVE.has(run.status);
    const progress = h("progress", { id: "run-progress", max: run.rounds || 1, value: run.current_round });
    const stop = ctx.admin && active
      ? h("button", { type: "button", class: "danger", id: "stop-run", onclick: () => guarded(async () => {
        await ctx.api.post(`runs/${encodeURIComponent(runId)}/stop`);
        await showRun(runId);
      }) }, "Stop run")
      : "";
    const series = roundSeries(run.metrics);
    const names = [...new Set(series.map((v) => v.series))];
    const epsilon = run.metrics.flatMap((m) => Object.entries(m.epsilon).map(([s, e]) => ({ x: m.round, y: e, series: s })));
    const chart = h("div", { class: "chart", id: "run-chart" });
    const epsilonChart = h("div", { class: "chart", id: "run-epsilon-chart" });
    const cell = (round, metric, value) => h("td", { "data-round": round, "data-metric": metric }, fmt(value, 4));
    detail.replaceChildren(
      h("h3", {}, `Run ${run.run_id}`),
      h("p", { class: "status" }, h("strong", { id: "run-status" }, run.status),
        ` · round ${run.current_round} of ${run.rounds ?? "?"} `, progress, active ? " (updating)" : "", stop),
      run.error ? h("p", { class: "error" }, run.error) : "",
      series.length ? chart : h("p", { class: "note" }, "No loss or validation metric released (a DP run releases no exact loss)."),
      epsilon.length ? epsilonChart : "",
      h("h4", {}, "Round metrics (loss and validation: noisy sums over hospitals; ε: after the round)"),
      table(["round", "kind", ...names, ...run.spokes.map((s) => `ε ${s}`)], run.metrics.map((m) => [m.round, m.kind ?? "–",
        ...names.map((name) => cell(m.round, name, series.find((v) => v.x === m.round && v.series === name)?.y)),
        ...run.spokes.map((s) => cell(m.round, `epsilon:${s}`, m.epsilon[s]))]), { id: "metrics-table" }),
      h("h4", {}, "Participation per hospital"),
      table(["round", ...run.spokes], run.metrics.map((m) => [m.round, ...run.spokes.map((s) => {
        const state = participation(s, m);
        return h("td", { class: `part-${state.split(":")[0]}` }, state);
      })]), { id: "participation-table" }),
    );
    if (series.length) await lineChart(chart, series, { title: "Loss and validation per round", yTitle: "value" });
    if (epsilon.length) await lineChart(epsilonChart, epsilon, { title: "Epsilon per hospital after each round", yTitle: "epsilon" });
    if (active && !closed && mine === latestShow) timer = setTimeout(() => showRun(runId), POLL_MS);
  }

  loadList();
  return () => {
    closed = true;
    clearTimeout(timer);
  };
}
