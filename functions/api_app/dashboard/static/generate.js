// Generation and prediction: a synthesis model's rows as a CSV download (POST /generate, format csv), and a
// predictive model's predictions for rows given as CSV text (POST /predict, text/csv). GET /models, GET /models/{v}.

import { downloadFile, field, form, guarded, h } from "./dom.js";

function toCsv(columns, records) {
  const cell = (v) => (v === null || v === undefined ? "" : /[",\n]/.test(String(v)) ? `"${String(v).replaceAll('"', '""')}"` : String(v));
  return [columns.map(cell).join(","), ...records.map((r) => columns.map((c) => cell(r[c])).join(","))].join("\n") + "\n";
}

function conditionsEditor(model) {
  const categorical = model.schema.columns.filter((c) => c.kind === "categorical");
  const list = h("div", { class: "conditions" });
  const add = () => {
    const column = h("select", { name: "condition_column" }, h("option", { value: "" }, "(no condition)"),
      categorical.map((c) => h("option", { value: c.name }, c.name)));
    const value = h("select", { name: "condition_value" });
    column.addEventListener("change", () => {
      const chosen = categorical.find((c) => c.name === column.value);
      value.replaceChildren(...(chosen ? chosen.categories : []).map((v) => h("option", { value: String(v) }, String(v))));
    });
    list.append(h("div", { class: "row" }, column, value));
  };
  add();
  return h("div", {}, list, h("button", { type: "button", onclick: add }, "Add condition"));
}

function conditionsFrom(data, model) {
  const columns = data.getAll("condition_column");
  const values = data.getAll("condition_value");
  const conditions = {};
  columns.forEach((name, i) => {
    if (!name) return;
    const column = model.schema.columns.find((c) => c.name === name);
    const match = column.categories.find((c) => String(c) === values[i]);
    conditions[name] = match === undefined ? values[i] : match;
  });
  return conditions;
}

async function generateForm(ctx, model, box) {
  const result = h("p", { id: "generate-result" });
  box.replaceChildren(form([
    field("Rows", h("input", { name: "rows", type: "number", min: 1, value: 100, required: true })),
    field("Seed", h("input", { name: "seed", type: "number", min: 0, value: 0, required: true })),
    field("Conditions (categorical column = value)", conditionsEditor(model)),
  ], "Generate CSV", async (data) => {
    const body = { rows: Number(data.get("rows")), seed: Number(data.get("seed")), conditions: conditionsFrom(data, model),
      model_version: model.version, format: "csv" };
    const response = await ctx.api.raw("POST", "generate", { json: body });
    if ((response.headers.get("content-type") || "").startsWith("text/csv")) {
      downloadFile(`synthetic-${model.version}-seed${body.seed}.csv`, await response.text());
      result.replaceChildren(`Downloaded ${body.rows} synthetic rows.`);
    } else {  // above the inline limit: a presigned download link
      const link = await response.json();
      result.replaceChildren(h("a", { href: link.url, rel: "noreferrer" }, `Download ${link.rows} rows (link expires ${link.expires_at})`));
    }
  }, { id: "generate-form" }), result);
}

function predictForm(ctx, model, box) {
  const result = h("p", { id: "predict-result" });
  box.replaceChildren(form([
    field("Rows as CSV (header row, then one row per patient; not shown or kept)",
      h("textarea", { name: "csv", rows: 6, required: true, spellcheck: "false", autocomplete: "off" })),
    field("Survival times (comma-separated, optional)", h("input", { name: "times", pattern: "[0-9.eE+,-]*" })),
  ], "Predict and download CSV", async (data) => {
    const response = await ctx.api.raw("POST", "predict", { csv: data.get("csv"), query: { version: model.version, times: data.get("times") } });
    const predictions = await response.json();
    downloadFile(`predictions-${model.version}.csv`, toCsv(predictions.columns, predictions.predictions));
    result.replaceChildren(`Downloaded ${predictions.predictions.length} predictions.`);
  }, { id: "predict-form" }), result);
}

export function render(section, ctx) {
  const chooser = h("div", {});
  const box = h("div", {});
  section.replaceChildren(h("h2", {}, "Generate or predict"), chooser, box);
  guarded(async () => {
    const { models } = await ctx.api.get("models");
    const cards = await Promise.all(models.slice(0, 20).map((m) => ctx.api.get(`models/${encodeURIComponent(m.version)}`)));
    if (!models.length) {
      chooser.replaceChildren(h("p", {}, "No model has been published yet."));
      return;
    }
    const select = h("select", { id: "model-select" }, cards.map((card, i) => h("option", { value: i },
      `${models[i].version} (${card.task}: ${card.serves})`)));
    const open = () => {
      const i = Number(select.value);
      return cards[i].serves === "generate" ? generateForm(ctx, models[i], box) : predictForm(ctx, models[i], box);
    };
    select.addEventListener("change", () => guarded(open));
    chooser.replaceChildren(field("Model", select));
    await open();
  });
}
