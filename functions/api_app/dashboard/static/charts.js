// Vega-Lite charts through the vendored vega-embed, drawn on canvas with Vega's expression interpreter
// (ast: true): no eval and no injected styles, so the page's Content-Security-Policy holds.

const EMBED = { mode: "vega-lite", renderer: "canvas", actions: false, ast: true, tooltip: false, defaultStyle: false };

async function draw(el, spec) {
  const result = await window.vegaEmbed(el, { width: "container", height: 180, autosize: { type: "fit", contains: "padding" }, ...spec }, EMBED);
  return result.view;
}

// values: [{x, y, series}]; rules: [{y, series}] drawn as dashed horizontal lines (e.g. a limit).
export function lineChart(el, values, { title, xTitle = "round", yTitle, rules = [] }) {
  const color = { field: "series", type: "nominal", title: null };
  const layer = [{
    mark: { type: "line", point: true },
    encoding: { x: { field: "x", type: "ordinal", title: xTitle }, y: { field: "y", type: "quantitative", title: yTitle }, color },
  }];
  if (rules.length) {
    layer.push({ data: { values: rules }, mark: { type: "rule", strokeDash: [4, 4] }, encoding: { y: { field: "y", type: "quantitative" }, color } });
  }
  return draw(el, { title, data: { values }, layer });
}

// A synthetic column's marginal: counts of a categorical column, or a histogram of a numeric one.
export function marginalChart(el, values, column, numeric) {
  const x = numeric
    ? { field: column, bin: { maxbins: 30 }, type: "quantitative" }
    : { field: column, type: "nominal", sort: "-y" };
  return draw(el, { title: `${column} (synthetic)`, data: { values }, mark: "bar", encoding: { x, y: { aggregate: "count", type: "quantitative" } } });
}

// One column: shares per cell of the DP setup histogram beside the synthetic sample's, side by side.
// values: [{cell, share, series}]; cells in the order given.
export function setupComparisonChart(el, values, column) {
  const cells = [...new Set(values.map((v) => v.cell))];
  return draw(el, {
    title: `${column}: share per cell`, data: { values }, mark: "bar", height: 200,
    encoding: {
      x: { field: "cell", type: "nominal", sort: cells, title: null },
      xOffset: { field: "series", type: "nominal" },
      y: { field: "share", type: "quantitative", title: "share", axis: { format: "%" } },
      color: { field: "series", type: "nominal", title: null, legend: { orient: "bottom", labelLimit: 400 } },
    },
  });
}

// A pair-trend matrix: values [{a, b, v}] over `names` (both axes, in order); the colour scale is fixed to
// [0, 1] so two heatmaps side by side read the same.
export function pairTrendHeatmap(el, values, names, title) {
  const axis = { field: "a", type: "nominal", sort: names, scale: { domain: names }, title: null };
  return draw(el, {
    title, data: { values }, mark: "rect", height: 360,
    encoding: {
      x: axis, y: { ...axis, field: "b" },
      color: { field: "v", type: "quantitative", title: "Cramér's V", scale: { domain: [0, 1], scheme: "blues" } },
    },
  });
}
