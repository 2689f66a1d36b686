/**
 * Hides secrets in what the stand-in prints: passwords inside URLs
 * (`postgres://user:secret@host` → `postgres://user:***@host`) and values of
 * secret-looking names. Config vars carry database URLs, and logs get pasted.
 */

const SECRET_NAME = /pass(word)?|secret|token|api[_-]?key|private[_-]?key|credential/i;
const URL_PASSWORD = /(\/\/[^/:@\s]*:)[^@/\s]+@/g;

export function maskSecrets(value: unknown, name?: string): unknown {
  if (typeof value === "string") {
    return name !== undefined && SECRET_NAME.test(name) ? "***" : value.replace(URL_PASSWORD, "$1***@");
  }
  if (Array.isArray(value)) return value.map((item) => maskSecrets(item, name));
  if (typeof value === "object" && value !== null) {
    const record = value as Record<string, unknown>;
    // The `[{name, value}]` form of a config patch (spec §4.5): the secret's name is a sibling of its value.
    const pairName = typeof record.name === "string" ? record.name : undefined;
    return Object.fromEntries(
      Object.entries(record).map(([key, item]) => [key, maskSecrets(item, key === "value" && pairName !== undefined ? pairName : key)]),
    );
  }
  return value;
}
