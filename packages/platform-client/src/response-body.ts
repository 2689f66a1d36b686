/** Reading and summarising Platform API answers, which are JSON except when a proxy in between says otherwise. */

const MAX_TEXT_IN_MESSAGE = 200;

/** The body as JSON when it parses, else as text (an HTML error page, "Retry later"), or undefined when empty. */
export async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * A one-line reason from an error body, following the global API's shapes (spec §4.1):
 * `{"error": "..."}`, `{"resource": "app", "error": "not found"}` and `{"errors": {"field": ["msg"]}}`.
 */
export function summariseErrorBody(body: unknown): string | undefined {
  if (typeof body === "string") return truncate(body.replace(/\s+/g, " ").trim());
  if (typeof body !== "object" || body === null) return undefined;
  const record = body as Record<string, unknown>;
  if (typeof record.errors === "object" && record.errors !== null) {
    const parts = Object.entries(record.errors as Record<string, unknown>).map(([field, messages]) =>
      `${field}: ${Array.isArray(messages) ? messages.map(String).join(", ") : String(messages)}`,
    );
    if (parts.length > 0) return truncate(parts.join("; "));
  }
  if (typeof record.error === "string") {
    return truncate(typeof record.resource === "string" ? `${record.resource} ${record.error}` : record.error);
  }
  if (typeof record.message === "string") return truncate(record.message);
  return undefined;
}

function truncate(text: string): string {
  return text.length > MAX_TEXT_IN_MESSAGE ? `${text.slice(0, MAX_TEXT_IN_MESSAGE)}…` : text;
}
