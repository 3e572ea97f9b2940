/** Sums Prometheus text-format samples of one metric, optionally grouped by one label. */
export function sumSamples(text: string, metric: string, groupBy?: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`) && !line.startsWith(`${metric} `)) continue;
    const space = line.lastIndexOf(' ');
    const value = Number(line.slice(space + 1));
    let key = '';
    if (groupBy !== undefined) {
      const m = new RegExp(`[{,]${groupBy}="([^"]*)"`).exec(line);
      key = m?.[1] ?? '';
    }
    out[key] = (out[key] ?? 0) + value;
  }
  return out;
}
