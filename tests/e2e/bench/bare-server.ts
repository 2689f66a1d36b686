/**
 * The bench's reference: a Fastify route that does nothing, in a process of its own
 * like Berth's API, answering what the accept path answers. Listens on $PORT.
 */
import Fastify from "fastify";

const app = Fastify();
app.get("/health", async () => ({ status: "ok" }));
app.post("/bare", async (_request, reply) => reply.code(202).send({ id: "x", message: "ok" }));
await app.listen({ host: "127.0.0.1", port: Number(process.env.PORT) });
process.on("SIGTERM", () => void app.close().then(() => process.exit(0)));
