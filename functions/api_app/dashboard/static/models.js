// Models: published versions and each one's model card; for a synthesis model, a synthetic sample generated
// through the API beside the DP measurements the hub holds (never real rows: the hub holds none).
// GET /models, GET /models/{version}, GET /models/{version}/measurements, POST /generate; and, served by the
// sandbox's local server only, GET /sandbox/report (real vs synthetic from the demo's report).

import { marginalChart, pairTrendHeatmap, setupComparisonChart } from "./charts.js";
import { fmt, guarded, h, table } from "./dom.js";
import {
  DP_LABEL, SAMPLE_LABEL, cellsOf, measuredAssociations, sampleAssociations, setupShares,
} from "./pairtrends.js";

const SAMPLE_ROWS = 500;

function cardView(card) {
  const v = card.version;
  const metrics = Object.entries(v.metrics || {}).filter(([, value]) => typeof value === "number");
  return h("div", { id: "model-card" },
    h("h3", {}, `Model ${v.version}`),
    h("p", {}, `task ${card.task} · serves ${card.serves} · run ${v.run_id} · round ${v.round} · ${v.created_at}`),
    metrics.length ? table(["metric (federated, noisy)", "value"], metrics.map(([k, value]) => [k, fmt(value, 4)])) : "",
    h("h4", {}, "Privacy"),
    table(["hospital", "epsilon"], Object.entries(card.privacy.epsilon_per_hospital).map(([s, e]) => [s, fmt(e)])),
    h("p", {}, `DP ${card.privacy.dp ? "on" : "off"} · delta ${card.privacy.delta ?? "–"}`),
    h("h4", {}, "SHA-256 of each file"),
    table(["file", "sha256"], Object.entries(card.sha256).map(([file, digest]) => [file, h("code", {}, digest)])));
}

async function marginals(ctx, model, box) {
  const [sample, measured] = await Promise.all([
    ctx.api.post("generate", { rows: SAMPLE_ROWS, seed: 0, model_version: model.version, format: "json" }),
    ctx.api.get(`models/${encodeURIComponent(model.version)}/measurements`),
  ]);
  const columns = model.schema.columns;
  const histograms = new Map((measured.histograms || []).map((m) => [m.column, m]));
  const cells = new Map(columns.map((c) => [c.name, cellsOf(c, histograms.get(c.name))]));
  const select = h("select", { id: "marginal-column" }, columns.map((c) => h("option", { value: c.name }, c.name)));
  const chart = h("div", { class: "chart", id: "marginal-chart" });
  const drawColumn = () => {
    const column = columns.find((c) => c.name === select.value);
    const histogram = histograms.get(column.name);
    if (histogram) {
      return setupComparisonChart(chart, setupShares(histogram, sample.data, column.name, cells.get(column.name)),
        column.name);
    }
    const values = sample.data.map((row) => ({ [column.name]: row[column.name] }));
    return marginalChart(chart, values, column.name, column.kind === "numeric");
  };
  select.addEventListener("change", () => guarded(drawColumn));
  const heatmaps = h("div", { class: "pair-heatmaps" });
  box.replaceChildren(
    h("h4", {}, `Synthetic marginals (${sample.rows} generated rows, seed 0) against the DP setup histograms`),
    measured.histograms
      ? h("p", { class: "note" }, `Bars: "${DP_LABEL}", the hub's merged setup histograms, normalised; ` +
          `"${SAMPLE_LABEL}", the generated rows in the same cells. No real rows: the hub holds none.`)
      : h("p", { class: "note", id: "no-histograms" }, `No DP setup histograms for this model: ${measured.histograms_reason}.`),
    select, chart,
    h("h4", {}, "Pair trends (Cramér's V, numeric columns in their setup cells)"), heatmaps);
  await drawColumn();
  await pairTrends(sample, measured, columns.map((c) => c.name), cells, heatmaps);
}

async function pairTrends(sample, measured, names, cells, box) {
  const synthetic = h("div", { class: "chart", id: "pairs-synthetic" });
  const panels = [h("div", {}, synthetic)];
  let dp = null;
  if (measured.marginals) {
    dp = h("div", { class: "chart", id: "pairs-dp" });
    panels.unshift(h("div", {}, dp, h("p", { class: "note" },
      "Only the pairs the hospitals measured (the pairs the model selected) have a cell; noisy counts below " +
      "zero count as zero.")));
  } else {
    panels.push(h("p", { class: "note", id: "no-measured-pairs" },
      `No heatmap of the DP 2-way measurements: ${measured.marginals_reason}.`));
  }
  box.replaceChildren(...panels);
  if (dp) await pairTrendHeatmap(dp, measuredAssociations(measured.marginals), names, DP_LABEL);
  await pairTrendHeatmap(synthetic, sampleAssociations(sample.data, names, cells), names, SAMPLE_LABEL);
}

// Shown only where GET /sandbox/report answers: the local server of `demo --serve`. A deployment has no
// such route (its hub holds no real rows), so a 404 or any other error shows nothing.
async function sandboxReport(ctx, box) {
  let report;
  try {
    report = await ctx.api.get("sandbox/report");
  } catch {
    return;
  }
  const utility = report.utility || {};
  box.replaceChildren(h("section", { id: "sandbox-report", class: "sandbox-only" },
    h("h3", {}, report.label),
    h("p", { class: "note" }, "Scores of the demo's synthetic rows against its real holdout (SDMetrics). " +
      "The sandbox holds both; a deployment's hub holds no real rows and shows nothing here."),
    table(["score", "value"], [
      ["column shapes", fmt(report.column_shapes)],
      ["column pair trends", `${fmt(report.column_pair_trends)} (${report.pairs_scored ?? "–"} of ${report.pairs_total ?? "–"} pairs scored)`],
      [`utility TSTR (${utility.metric ?? ""})`, fmt(utility.tstr)],
      ["utility TRTR", fmt(utility.trtr)],
    ]),
    table(["column", "shape metric", "score"], Object.entries(report.per_column || {}).map(
      ([name, shape]) => [name, shape.metric, fmt(shape.score)]))));
}

export function render(section, ctx) {
  const list = h("div", { id: "model-list" });
  const detail = h("div", {});
  const sandbox = h("div", {});
  section.replaceChildren(h("h2", {}, "Published models"), list, detail, sandbox);

  // The card shown stays until another version is chosen: choosing the shown one again does not redraw it (and
  // so never replaces a sample the user is generating), and an answer that arrives after a later choice's is
  // dropped, not drawn over it.
  let latestShow = 0;
  let shownVersion = null;
  async function show(model) {
    if (model.version === shownVersion) return;
    const mine = ++latestShow;
    const card = await guarded(() => ctx.api.get(`models/${encodeURIComponent(model.version)}`));
    if (!card || mine !== latestShow) return;
    shownVersion = model.version;
    const box = h("div", {});
    const button = card.serves === "generate"
      ? h("button", { type: "button", id: "show-marginals", onclick: () => guarded(() => marginals(ctx, model, box)) },
        `Generate ${SAMPLE_ROWS} rows and compare with the DP measurements`)
      : "";
    detail.replaceChildren(cardView(card), button, box);
  }

  sandboxReport(ctx, sandbox);
  guarded(async () => {
    const { models } = await ctx.api.get("models");
    if (!models.length) {
      list.replaceChildren(h("p", {}, "No model has been published yet."));
      return;
    }
    list.replaceChildren(table(["version", "run", "created", "latest"], models.map((m) => [
      h("button", { type: "button", class: "link", onclick: () => show(m) }, m.version), m.run_id, m.created_at,
      m.latest ? "yes" : ""])));
    await show(models[0]);
  });
}
