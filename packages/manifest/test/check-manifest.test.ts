import { addons } from "@berth/addons";
import { manifestSchema } from "@berth/protocol";
import { describe, expect, it } from "vitest";
import { buildManifest, checkManifest, manifestErrors, type ManifestProblem } from "../src/index.js";

const PASSWORD = "0123456789abcdef0123";
const SALT = "fedcba9876543210fedc";

/** A good PostgreSQL manifest, as JSON would give it, for each test to break. */
function good(): Record<string, any> {
  const manifest = buildManifest(addons.get("postgresql")!, {
    publicUrl: "https://berth.example.com",
    username: "berth-postgresql",
    password: PASSWORD,
    ssoSalt: SALT,
  });
  return JSON.parse(JSON.stringify(manifest)) as Record<string, any>;
}

function broken(change: (manifest: Record<string, any>) => void): Record<string, any> {
  const manifest = good();
  change(manifest);
  return manifest;
}

/** Asserts one problem per expected path, in order, each message containing its key words. */
function expectProblems(problems: ManifestProblem[], expected: Array<[path: string, ...words: string[]]>): void {
  expect(problems.map((problem) => problem.path)).toEqual(expected.map(([path]) => path));
  expected.forEach(([, ...words], index) => {
    for (const word of words) expect(problems[index]!.message).toContain(word);
  });
}

describe("checkManifest: the tester's rules", () => {
  it("accepts a good manifest, with or without the installed addons", () => {
    expect(checkManifest(good())).toEqual([]);
    expect(checkManifest(good(), { addons })).toEqual([]);
  });

  it("refuses what is not a JSON object", () => {
    for (const input of ["{}", 42, null, undefined, [good()], new Map()]) {
      const problems = checkManifest(input, { addons });
      expectProblems(problems, [["(root)", "expected a JSON object"]]);
    }
    expect(checkManifest([1, 2])[0]!.message).toContain("an array of 2 elements");
    expect(checkManifest(new Map())[0]!.message).toContain("JSON cannot hold");
  });

  it("refuses a blank or missing username and other required strings", () => {
    expectProblems(checkManifest(broken((m) => (m.username = ""))), [["username", "can't be blank", '""']]);
    expectProblems(
      checkManifest(
        broken((m) => {
          delete m.short_description;
          m.description = "   ";
          m.name = 3;
        }),
      ),
      [
        ["name", "expected a non-empty string", "the number 3"],
        ["short_description", "expected a non-empty string", "missing"],
        ["description", "can't be blank"],
      ],
    );
  });

  it("refuses empty or missing plans and config vars", () => {
    expectProblems(
      checkManifest(
        broken((m) => {
          m.plans = [];
          m.config_vars = [];
        }),
        { addons },
      ),
      [
        ["config_vars", "at least one element environment variable", "empty array"],
        // With the addons, also what was expected; problems come grouped by field.
        ["config_vars", "misses SCALINGO_POSTGRESQL_URL"],
        ["plans", "at least one element plan", "empty array"],
      ],
    );
    expectProblems(
      checkManifest(
        broken((m) => {
          delete m.plans;
          m.config_vars = "SCALINGO_POSTGRESQL_URL";
        }),
      ),
      [
        ["config_vars", "expected an array", '"SCALINGO_POSTGRESQL_URL"'],
        ["plans", "expected an array", "missing"],
      ],
    );
  });

  it("refuses URLs that do not parse", () => {
    expectProblems(
      checkManifest(
        broken((m) => {
          m.test.base_url = "not a url";
          m.test.sso_url = "";
          delete m.production.sso_url;
        }),
      ),
      [
        ["production.sso_url", "expected an https URL", "missing"],
        ["test.base_url", "not a valid URL", '"not a url"'],
        ["test.sso_url", "expected an absolute http(s) URL", '""'],
      ],
    );
    expectProblems(checkManifest(broken((m) => (m.production = "https://berth.example.com"))), [
      ["production", "expected an object with base_url and sso_url", '"https://berth.example.com"'],
    ]);
  });

  it("lists every problem at once", () => {
    const problems = checkManifest(
      broken((m) => {
        m.username = "";
        m.password = "";
        m.sso_salt = "";
        m.short_description = "";
        m.description = "";
        m.plans = [];
        m.config_vars = [];
        m.production.base_url = "::";
      }),
    );
    expect(problems.map((problem) => problem.path)).toEqual([
      "username",
      "password",
      "sso_salt",
      "short_description",
      "description",
      "config_vars",
      "production.base_url",
      "plans",
    ]);
  });
});

describe("checkManifest: stricter rules", () => {
  it("refuses a duplicate plan name", () => {
    const problems = checkManifest(broken((m) => (m.plans[2].name = m.plans[0].name)), { addons });
    expectProblems(problems, [
      ["plans[2].name", '"postgresql-sandbox"', "defined twice", "plans[0].name"],
      // The business plan is no longer offered: a warning, not an error.
      ["plans", "postgresql-business-1024", "not offered"],
    ]);
    expect(problems[1]!.severity).toBe("warning");
    expect(manifestErrors(problems)).toHaveLength(1);
  });

  it("refuses a lower-case or otherwise invalid config var name, and a repeated one", () => {
    expectProblems(
      checkManifest(broken((m) => (m.config_vars = ["scalingo_postgresql_url", "1_URL", "SCALINGO_POSTGRESQL_URL", "SCALINGO_POSTGRESQL_URL", 7]))),
      [
        ["config_vars[0]", "not a valid environment variable name", '"scalingo_postgresql_url"', 'did you mean "SCALINGO_POSTGRESQL_URL"'],
        ["config_vars[1]", "not a valid environment variable name", '"1_URL"'],
        ["config_vars[3]", "listed twice", "config_vars[2]"],
        ["config_vars[4]", "expected an environment variable name", "the number 7"],
      ],
    );
  });

  it("refuses production URLs on http, accepts test URLs on http", () => {
    expectProblems(
      checkManifest(
        broken((m) => {
          m.production.base_url = "http://berth.example.com/postgresql/resources";
          m.production.sso_url = "http://berth.example.com/postgresql/sso";
          m.test.base_url = "http://127.0.0.1:4000/postgresql/resources";
        }),
        { addons },
      ),
      [
        ["production.base_url", "must use https", "credentials", '"http://berth.example.com/postgresql/resources"'],
        ["production.sso_url", "must use https", '"http://berth.example.com/postgresql/sso"'],
      ],
    );
    expectProblems(checkManifest(broken((m) => (m.test.sso_url = "ftp://berth.example.com/postgresql/sso"))), [
      ["test.sso_url", "http(s) URL", "ftp:"],
    ]);
  });

  it("checks prices, display names, descriptions and options of plans", () => {
    expectProblems(
      checkManifest(
        broken((m) => {
          m.plans[0].price = -1;
          m.plans[1].price = "14.40";
          delete m.plans[2].price;
          m.plans[0].display_name = "";
          delete m.plans[1].description;
          m.plans[1].options = { max_connections: 50, "with space": "ok" };
          m.plans[2].options = ["a"];
        }),
      ),
      [
        ["plans[0].display_name", "can't be blank"],
        ["plans[0].price", "non-negative number", "the number -1"],
        ["plans[1].price", "non-negative number", '"14.40"'],
        ["plans[1].description", "expected a non-empty string", "missing"],
        ["plans[1].options.max_connections", "string → string", "the number 50"],
        ["plans[2].price", "non-negative number", "missing"],
        ["plans[2].options", "object of string values", "an array of 1 element"],
      ],
    );
    expect(checkManifest(broken((m) => (m.plans[0].options = null)))).toEqual([]);
    expectProblems(checkManifest(broken((m) => (m.plans[1] = "postgresql-starter-512")), { addons }), [
      ["plans[1]", "expected a plan object", '"postgresql-starter-512"'],
      ["plans", "postgresql-starter-512", "not offered"],
    ]);
  });

  it("wants secrets of at least 16 characters and never shows them", () => {
    const problems = checkManifest(
      broken((m) => {
        m.password = "short-secret";
        m.sso_salt = "salty";
      }),
    );
    expectProblems(problems, [
      ["password", "too short", "at least 16 characters", "found 12"],
      ["sso_salt", "too short", "found 5"],
    ]);
    expect(JSON.stringify(problems)).not.toContain("short-secret");
    expect(JSON.stringify(problems)).not.toContain("salty");
    expectProblems(checkManifest(broken((m) => (m.password = ""))), [["password", "can't be blank", "an empty string"]]);
  });

  it("accepts no logo or a protocol-relative one, refuses an invalid one", () => {
    expect(checkManifest(broken((m) => delete m.logo_url))).toEqual([]);
    expect(checkManifest(broken((m) => (m.logo_url = "//cdn.example.com/logo.png")))).toEqual([]);
    expectProblems(checkManifest(broken((m) => (m.logo_url = "logo.png"))), [["logo_url", "not a valid URL", '"logo.png"']]);
    expectProblems(checkManifest(broken((m) => (m.logo_url = "data:image/png;base64,AAAA"))), [["logo_url", "http(s)", "data:"]]);
  });

  it("refuses a log_drain that is not a boolean", () => {
    expectProblems(checkManifest(broken((m) => (m.log_drain = "false"))), [["log_drain", "true or false", '"false"']]);
  });

  it("accepts unknown keys, as the tester does", () => {
    expect(checkManifest(broken((m) => (m.regions = ["osc-fr1"])), { addons })).toEqual([]);
  });
});

describe("checkManifest: against the installed addons", () => {
  it("refuses a missing config var", () => {
    const problems = checkManifest(broken((m) => (m.config_vars = ["SCALINGO_POSTGRES_URL"])), { addons });
    expectProblems(problems, [
      ["config_vars[0]", '"SCALINGO_POSTGRES_URL"', "not set by the postgresql addon", "SCALINGO_POSTGRESQL_URL"],
      ["config_vars", "misses SCALINGO_POSTGRESQL_URL", "expected exactly SCALINGO_POSTGRESQL_URL", "found SCALINGO_POSTGRES_URL"],
    ]);
  });

  it("lists problems grouped by field, in the manifest's order", () => {
    const problems = checkManifest(
      broken((m) => {
        m.plans[0].name = "postgresql-huge";
        m.config_vars = ["scalingo_postgresql_url"];
        m.username = "";
      }),
      { addons },
    );
    expect(problems.map((problem) => problem.path)).toEqual([
      "username",
      "config_vars[0]",
      "config_vars[0]",
      "config_vars",
      "plans[0].name",
      "plans",
    ]);
  });

  it("refuses an extra config var", () => {
    expectProblems(checkManifest(broken((m) => m.config_vars.push("DATABASE_URL")), { addons }), [
      ["config_vars[1]", '"DATABASE_URL"', "not set by the postgresql addon"],
    ]);
    // Without the addons, nothing to compare with.
    expect(checkManifest(broken((m) => m.config_vars.push("DATABASE_URL")))).toEqual([]);
  });

  it("refuses a plan the addon does not define and warns about the plans not offered", () => {
    const problems = checkManifest(broken((m) => (m.plans[1].name = "postgresql-huge")), { addons });
    expectProblems(problems, [
      ["plans[1].name", '"postgresql-huge"', "not a plan of the postgresql addon", "postgresql-sandbox, postgresql-starter-512"],
      ["plans", "postgresql-starter-512", "not offered"],
    ]);
    expect(problems.map((problem) => problem.severity)).toEqual([undefined, "warning"]);
  });

  it("only warns when the manifest offers a subset of the plans", () => {
    const problems = checkManifest(broken((m) => m.plans.splice(1, 2)), { addons });
    expectProblems(problems, [["plans", "plans postgresql-starter-512, postgresql-business-1024 are not offered"]]);
    expect(manifestErrors(problems)).toEqual([]);
  });

  it("says when the addon cannot be identified", () => {
    expectProblems(checkManifest(broken((m) => (m.production.base_url = "https://berth.example.com/mongodb/resources")), { addons }), [
      ["production.base_url", 'the addon "mongodb", which is not installed', "postgresql, mysql, redis"],
    ]);
    expectProblems(checkManifest(broken((m) => (m.production.base_url = "https://berth.example.com/resources")), { addons }), [
      ["production.base_url", "does not lead to an installed addon", "/<addon>/resources", '"/resources"'],
    ]);
    expectProblems(checkManifest(broken((m) => delete m.production.base_url), { addons }), [
      ["production.base_url", "expected an https URL", "missing"],
      ["production.base_url", "cannot identify the addon"],
    ]);
  });

  it("identifies the addon by its production base URL and compares with that addon", () => {
    // A PostgreSQL manifest pointed at the redis routes: config vars and plans are not redis's.
    const problems = checkManifest(
      broken((m) => (m.production.base_url = "https://berth.example.com/redis/resources")),
      { addons },
    );
    const paths = problems.map((problem) => problem.path);
    expect(paths).toContain("production.sso_url");
    expect(paths).toContain("test.base_url");
    expect(paths).toContain("config_vars[0]");
    expect(paths).toContain("plans[0].name");
    expect(problems.find((problem) => problem.path === "config_vars")?.message).toContain("SCALINGO_REDIS_URL");
  });

  it("wants the other URLs to lead to the same addon", () => {
    expectProblems(checkManifest(broken((m) => (m.test.sso_url = "https://berth.example.com/mysql/sso")), { addons }), [
      ["test.sso_url", "does not lead to the postgresql addon", "/postgresql/sso", '"/mysql/sso"'],
    ]);
  });

  it("refuses log_drain: Berth sends no log drain URL", () => {
    expectProblems(checkManifest(broken((m) => (m.log_drain = true)), { addons }), [["log_drain", "expected false", "log_drain_url"]]);
    expect(checkManifest(broken((m) => (m.log_drain = true)))).toEqual([]);
  });
});

describe("checkManifest and the protocol schema", () => {
  it("never passes what the schema refuses", () => {
    const variants = [
      broken((m) => (m.username = "")),
      broken((m) => (m.plans = [])),
      broken((m) => (m.plans[0].price = "0")),
      broken((m) => (m.plans[0].options = { a: 1 })),
      broken((m) => (m.test.base_url = "nope")),
      broken((m) => delete m.test),
      broken((m) => (m.config_vars = [1])),
      broken((m) => (m.name = null)),
      broken((m) => (m.log_drain = 0)),
    ];
    for (const variant of variants) {
      expect(manifestSchema.safeParse(variant).success).toBe(false);
      expect(checkManifest(variant).length).toBeGreaterThan(0);
    }
  });
});
