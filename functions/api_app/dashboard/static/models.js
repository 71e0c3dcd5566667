// Models: published versions and each one's model card; for a synthesis model, the marginals of a synthetic
// sample generated through the API (never real rows: the hub holds none). GET /models, GET /models/{version},
// POST /generate.

import { marginalChart } from "./charts.js";
import { fmt, guarded, h, table } from "./dom.js";

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
  const sample = await ctx.api.post("generate", { rows: SAMPLE_ROWS, seed: 0, model_version: model.version, format: "json" });
  const columns = model.schema.columns;
  const select = h("select", { id: "marginal-column" }, columns.map((c) => h("option", { value: c.name }, c.name)));
  const chart = h("div", { class: "chart", id: "marginal-chart" });
  const drawColumn = () => {
    const column = columns.find((c) => c.name === select.value);
    const values = sample.data.map((row) => ({ [column.name]: row[column.name] }));
    return marginalChart(chart, values, column.name, column.kind === "numeric");
  };
  select.addEventListener("change", () => guarded(drawColumn));
  box.replaceChildren(h("h4", {}, `Synthetic marginals (${sample.rows} generated rows, seed 0)`), select, chart,
    h("p", { class: "note" }, "The API does not expose the DP marginal measurements, so no comparison is shown."));
  await drawColumn();
}

export function render(section, ctx) {
  const list = h("div", { id: "model-list" });
  const detail = h("div", {});
  section.replaceChildren(h("h2", {}, "Published models"), list, detail);

  async function show(model) {
    const card = await guarded(() => ctx.api.get(`models/${encodeURIComponent(model.version)}`));
    if (!card) return;
    const box = h("div", {});
    const button = card.serves === "generate"
      ? h("button", { type: "button", id: "show-marginals", onclick: () => guarded(() => marginals(ctx, model, box)) },
        `Generate ${SAMPLE_ROWS} rows and show marginals`)
      : "";
    detail.replaceChildren(cardView(card), button, box);
  }

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
