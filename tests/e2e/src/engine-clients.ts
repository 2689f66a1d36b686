import type { EngineTestClient } from "@berth/addon-sdk/testing";
import { mysqlTestClient } from "@berth/addon-mysql/testing";
import { postgresqlTestClient } from "@berth/addon-postgresql/testing";
import { redisTestClient } from "@berth/addon-redis/testing";

/** Each engine's test client, by addon id: the contract suite checks databases through them. */
export const engineTestClients: Readonly<Record<string, EngineTestClient>> = {
  postgresql: postgresqlTestClient,
  mysql: mysqlTestClient,
  redis: redisTestClient,
};
