/** A tiny HTML templating: every interpolated value is escaped unless wrapped with `raw()`. */

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export class RawHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export const raw = (value: string): RawHtml => new RawHtml(value);

/** What a template may interpolate: an object would render as `[object Object]`. */
type HtmlValue = RawHtml | string | number | bigint | boolean | null | undefined | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value instanceof RawHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join("");
  if (value === null || value === undefined || value === false) return "";
  return String(value).replace(/[&<>"']/g, (char) => ESCAPES[char]!);
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): RawHtml {
  return raw(strings.reduce((out, string, i) => out + string + (i < values.length ? render(values[i]) : ""), ""));
}
