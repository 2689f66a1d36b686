/**
 * The real services the system tests run against. `scripts/test.sh` starts
 * them and exports these variables (see `.berth/local.env`).
 */
export interface TestEnvironment {
  databaseUrl: string;
  redisUrl: string;
  dockerHost: string;
  /** Extra variables passed through to the apps, e.g. BERTH_ADDON_<ID>_IMAGE. */
  passthrough: Record<string, string>;
}

export function testEnvironment(env: NodeJS.ProcessEnv = process.env): TestEnvironment {
  const databaseUrl = env.BERTH_TEST_DATABASE_URL;
  const redisUrl = env.BERTH_REDIS_URL;
  if (!databaseUrl || !redisUrl) {
    throw new Error("BERTH_TEST_DATABASE_URL and BERTH_REDIS_URL must be set: run the tests with scripts/test.sh");
  }
  const passthrough = Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => /^BERTH_ADDON_[A-Z0-9_]+_IMAGE$/.test(entry[0]) && !!entry[1]),
  );
  return { databaseUrl, redisUrl, dockerHost: env.DOCKER_HOST ?? "unix:///var/run/docker.sock", passthrough };
}
