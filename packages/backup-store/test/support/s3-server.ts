import { mkdtemp, rm } from "node:fs/promises";
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";
import { checkSignature, type SignatureCheck } from "./sigv4.js";

interface RecordedRequest {
  method: string;
  url: string;
  check: SignatureCheck;
}

export interface S3TestServer {
  /** The signature-checking front: what the backend under test talks to. */
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Every request the front received, with the outcome of its signature check. */
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/**
 * A real S3-speaking server on loopback (s3rver, storing in a temporary directory) behind a
 * front that checks every request's SigV4 signature and payload hash against the one secret it
 * knows (s3rver checks none), answering S3's 403 SignatureDoesNotMatch when they are wrong and
 * passing the request to s3rver otherwise.
 */
export async function startS3TestServer(): Promise<S3TestServer> {
  const directory = await mkdtemp(join(tmpdir(), "berth-s3rver-"));
  const bucket = "berth-backups-test";
  // s3rver knows one access key id, S3RVER (and checks no V4 signature); the secret is the front's own.
  const secret = { accessKeyId: "S3RVER", secretAccessKey: "berth-test-secret-access-key-0123456789", region: "eu-west-3", service: "s3" };
  const s3rver = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] });
  const upstream = await s3rver.run();
  const requests: RecordedRequest[] = [];

  const front = createServer((incoming, answer) => {
    void handle(incoming, answer).catch((error: unknown) => {
      answer.destroy(error as Error);
    });
  });
  const handle = async (incoming: IncomingMessage, answer: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const url = incoming.url ?? "/";
    const check = checkSignature({ method: incoming.method ?? "GET", url, headers: incoming.headers, body }, secret);
    requests.push({ method: incoming.method ?? "GET", url, check });
    if (!check.ok) {
      answer.writeHead(403, { "content-type": "application/xml" });
      answer.end(
        `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code><Message>${check.reason}</Message><RequestId>berth-test</RequestId></Error>`,
      );
      return;
    }
    const headers = { ...incoming.headers, "content-length": String(body.length) };
    delete headers["transfer-encoding"];
    delete headers.expect;
    await new Promise<void>((resolve, reject) => {
      const forwarded = httpRequest({ host: upstream.address, port: upstream.port, method: incoming.method, path: url, headers }, (response) => {
        answer.writeHead(response.statusCode ?? 502, response.headers);
        response.pipe(answer);
        response.on("end", resolve);
        response.on("error", reject);
      });
      forwarded.on("error", reject);
      forwarded.end(body);
    });
  };
  await new Promise<void>((resolve) => front.listen(0, "127.0.0.1", resolve));
  const { port } = front.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    region: secret.region,
    bucket,
    accessKeyId: secret.accessKeyId,
    secretAccessKey: secret.secretAccessKey,
    requests,
    async close() {
      front.closeAllConnections();
      await new Promise<void>((resolve) => front.close(() => resolve()));
      await s3rver.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
