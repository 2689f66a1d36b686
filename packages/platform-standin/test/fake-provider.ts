/** A provider's endpoints (spec §2) reduced to recording requests and giving scripted answers. */
import Fastify from "fastify";

interface ReceivedRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  rawBody: string;
}

export interface ScriptedAnswer {
  status: number;
  body?: unknown;
}

export interface FakeProvider {
  /** The provider's base URL, as in a manifest. */
  baseUrl: string;
  received: ReceivedRequest[];
  /** The next answers, oldest first; once empty, `fallback` answers. */
  answers: ScriptedAnswer[];
  close(): Promise<void>;
}

export async function startFakeProvider(fallback: ScriptedAnswer = { status: 500, body: { error: "no answer scripted" } }): Promise<FakeProvider> {
  const received: ReceivedRequest[] = [];
  const answers: ScriptedAnswer[] = [];
  const app = Fastify();
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string" }, (_request, body, done) => done(null, body));
  app.all("/scalingo/resources*", async (request, reply) => {
    const rawBody = typeof request.body === "string" ? request.body : "";
    let body: unknown;
    try {
      body = rawBody === "" ? undefined : JSON.parse(rawBody);
    } catch {
      body = rawBody;
    }
    received.push({ method: request.method, url: request.url, headers: { ...request.headers }, body, rawBody });
    const answer = answers.shift() ?? fallback;
    reply.status(answer.status);
    return answer.body === undefined ? reply.send() : reply.send(answer.body);
  });
  const address = await app.listen({ host: "127.0.0.1", port: 0 });
  return { baseUrl: `${address}/scalingo/resources`, received, answers, close: () => app.close() };
}
