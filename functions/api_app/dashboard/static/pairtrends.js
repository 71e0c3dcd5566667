// Column shares and pair trends of a synthetic sample, in the cells of the DP setup histograms, and the same
// statistics from the DP measurements (noisy counts, negative cells clipped to 0), so that both compare like
// with like. Pair trend: Cramér's V of the 2-way table (Cramér 1946), 0 (independent) to 1.

const FALLBACK_BINS = 10; // a numeric column without a setup histogram: equal bins over the schema's bounds

function binOf(edges, value) {
  const last = edges.length - 2;
  if (value <= edges[0]) return 0;
  if (value >= edges[last + 1]) return last; // the last bin is closed, as np.histogram's
  let i = 0;
  while (value >= edges[i + 1]) i += 1;
  return i;
}

function missing(value) {
  return value === null || value === undefined || value === "" || (typeof value === "number" && Number.isNaN(value));
}

// The cells a column's values fall in: { labels, cellOf(value) -> index or null for a missing value }.
export function cellsOf(column, histogram) {
  let edges = histogram?.edges;
  if (!histogram && column.kind === "numeric" && column.min !== undefined && column.max !== undefined) {
    const step = (column.max - column.min) / FALLBACK_BINS;
    edges = Array.from({ length: FALLBACK_BINS + 1 }, (_, i) => column.min + i * step);
  }
  if (edges) {
    const labels = histogram ? histogram.labels : edges.slice(0, -1).map((low, i) => `${low}–${edges[i + 1]}`);
    return { labels, cellOf: (v) => (missing(v) ? null : binOf(edges, Number(v))) };
  }
  const labels = histogram ? histogram.labels : (column.categories || column.values || []).map(String);
  const index = new Map(labels.map((label, i) => [label, i]));
  const byNumber = new Map(labels.map((label, i) => [Number(label), i])); // "1.0" from the hub, 1 in a row
  return { labels, cellOf: (v) => (missing(v) ? null : index.get(String(v)) ?? byNumber.get(Number(v)) ?? null) };
}

// [{cell, share, series}] of the setup histogram (normalised) and of the sample, a "missing" cell when the
// histogram has one.
export function setupShares(histogram, rows, column, cells) {
  const noisy = histogram.counts.map((c) => Math.max(c, 0));
  const noisyMissing = histogram.missing === null ? null : Math.max(histogram.missing, 0);
  const noisyTotal = noisy.reduce((a, b) => a + b, 0) + (noisyMissing ?? 0) || 1;
  const counts = new Array(cells.labels.length).fill(0);
  let sampleMissing = 0;
  for (const row of rows) {
    const cell = cells.cellOf(row[column]);
    if (cell === null) sampleMissing += 1;
    else counts[cell] += 1;
  }
  const n = rows.length || 1;
  const out = [];
  cells.labels.forEach((cell, i) => {
    out.push({ cell, share: noisy[i] / noisyTotal, series: DP_LABEL });
    out.push({ cell, share: counts[i] / n, series: SAMPLE_LABEL });
  });
  if (noisyMissing !== null) {
    out.push({ cell: "missing", share: noisyMissing / noisyTotal, series: DP_LABEL });
    out.push({ cell: "missing", share: sampleMissing / n, series: SAMPLE_LABEL });
  }
  return out;
}

export const DP_LABEL = "DP measurements (noisy, what the hospitals released)";
export const SAMPLE_LABEL = "synthetic sample";

// Cramér's V of a 2-way table of counts (negative cells clipped); null when a margin has a single category.
export function cramersV(table) {
  const t = table.map((row) => row.map((c) => Math.max(Number(c) || 0, 0)));
  const rowSums = t.map((row) => row.reduce((a, b) => a + b, 0));
  const colSums = t[0].map((_, j) => t.reduce((a, row) => a + row[j], 0));
  const n = rowSums.reduce((a, b) => a + b, 0);
  const k = Math.min(rowSums.filter((s) => s > 0).length, colSums.filter((s) => s > 0).length) - 1;
  if (n <= 0 || k <= 0) return null;
  let chi2 = 0;
  t.forEach((row, i) => row.forEach((observed, j) => {
    const expected = (rowSums[i] * colSums[j]) / n;
    if (expected > 0) chi2 += ((observed - expected) ** 2) / expected;
  }));
  return Math.min(Math.sqrt(chi2 / (n * k)), 1);
}

// [{a, b, v}] for every ordered pair of distinct columns of the sample (both orders, for a full matrix).
export function sampleAssociations(rows, names, cellsByName) {
  const codes = names.map((name) => rows.map((row) => cellsByName.get(name).cellOf(row[name])));
  const out = [];
  for (let i = 0; i < names.length; i += 1) {
    for (let j = i + 1; j < names.length; j += 1) {
      const table = Array.from({ length: cellsByName.get(names[i]).labels.length },
        () => new Array(cellsByName.get(names[j]).labels.length).fill(0));
      codes[i].forEach((ci, r) => {
        const cj = codes[j][r];
        if (ci !== null && cj !== null) table[ci][cj] += 1;
      });
      const v = table.length && table[0].length ? cramersV(table) : null;
      if (v !== null) out.push({ a: names[i], b: names[j], v }, { a: names[j], b: names[i], v });
    }
  }
  return out;
}

// The same from the measured noisy 2-way tables: [{columns: [a, b], labels: [[...], [...]], counts: [[...]]}],
// without their missing cells (the sample's table has none either).
export function measuredAssociations(marginals) {
  const out = [];
  for (const { columns: [a, b], labels, counts: all } of marginals) {
    const keep = (axis) => (_, i) => labels[axis][i] !== "missing" || i !== labels[axis].length - 1;
    const counts = all.filter(keep(0)).map((row) => row.filter(keep(1)));
    const v = counts.length && counts[0].length ? cramersV(counts) : null;
    if (v !== null) out.push({ a, b, v }, { a: b, b: a, v });
  }
  return out;
}
