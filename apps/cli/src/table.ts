/** Plain-text tables: a header row and columns padded to their widest cell. */
export function formatTable(headers: readonly string[], rows: readonly (readonly (string | number | null | undefined)[])[]): string {
  const cells = [headers, ...rows.map((row) => row.map((cell) => (cell === null || cell === undefined || cell === "" ? "-" : String(cell))))];
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => row[column]?.length ?? 0)));
  return cells.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join("  ").trimEnd()).join("\n") + "\n";
}

/** Key-value lines: `Key      value`. */
export function formatFields(fields: readonly (readonly [string, string | number | null | undefined])[]): string {
  const width = Math.max(...fields.map(([key]) => key.length));
  return fields.map(([key, value]) => `${key.padEnd(width)}  ${value === null || value === undefined || value === "" ? "-" : value}`).join("\n") + "\n";
}

/** How long ago, short: "42s", "7m", "5h", "12d". */
export function age(since: Date, now = new Date()): string {
  const seconds = Math.max(0, Math.round((now.getTime() - since.getTime()) / 1000));
  if (seconds < 90) return `${seconds}s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)}m`;
  if (seconds < 48 * 3600) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86_400)}d`;
}

export function timestamp(date: Date | null | undefined): string | undefined {
  return date ? `${date.toISOString().slice(0, 19).replace("T", " ")}Z` : undefined;
}

/** A size for people: "512 B", "1.5 KiB", "20.3 MiB", "1.1 GiB". */
export function formatBytes(bytes: number | bigint | null | undefined): string | undefined {
  if (bytes === null || bytes === undefined) return undefined;
  let value = Number(bytes);
  if (value < 1024) return `${value} B`;
  for (const unit of ["KiB", "MiB", "GiB"]) {
    value /= 1024;
    if (value < 1024 || unit === "GiB") return `${value.toFixed(1)} ${unit}`;
  }
  return undefined; // not reached: GiB ends the loop
}
