import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GENERATED_FILES, generatedSections, withGeneratedSections } from "../src/docs.js";
import { addons } from "../src/index.js";

const ROOT = join(import.meta.dirname, "..", "..", "..");

describe("the generated sections of the documentation", () => {
  it.each(GENERATED_FILES)("$path matches the registry (else: pnpm run docs:tables)", async ({ path, style }) => {
    const text = await readFile(join(ROOT, path), "utf8");
    expect(text).toMatch(/generated: [a-z-]+ \(pnpm run docs:tables\)/);
    expect(withGeneratedSections(text, style, generatedSections(addons))).toBe(text);
  });

  it("lists every installed addon in the README's engine table, and each of its plans", () => {
    const { engines, plans } = generatedSections(addons);
    for (const addon of addons.values()) {
      expect(engines).toContain(`| \`${addon.id}\` |`);
      for (const plan of addon.plans) expect(plans).toContain(`| \`${plan.name}\` |`);
    }
  });
});
