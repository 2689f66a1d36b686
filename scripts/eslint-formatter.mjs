// ESLint formatter for scripts/lint.sh: one line per finding, `file:line:column rule message`,
// the path relative to the repository, so that a finding can be opened from the terminal.
import path from "node:path";

export default function format(results, context) {
  const root = context?.cwd ?? process.cwd();
  const lines = [];
  for (const result of results) {
    for (const m of result.messages) {
      const where = `${path.relative(root, result.filePath)}:${m.line ?? 0}:${m.column ?? 0}`;
      const severity = m.severity === 2 ? "error" : "warning";
      lines.push(`${where} ${severity} ${m.ruleId ?? "eslint"}: ${m.message}`);
    }
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}
