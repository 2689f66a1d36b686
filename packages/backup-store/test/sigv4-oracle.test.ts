import { describe, expect, it } from "vitest";
import { checkSignature, EMPTY_SHA256, type ReceivedRequest } from "./support/sigv4.js";

// The example "GET Object" of AWS's Signature Version 4 documentation for S3 (header-based
// authentication), with its published signature: the test server's oracle must reproduce it.
const documented: ReceivedRequest = {
  method: "GET",
  url: "/test.txt",
  headers: {
    host: "examplebucket.s3.amazonaws.com",
    range: "bytes=0-9",
    "x-amz-content-sha256": EMPTY_SHA256,
    "x-amz-date": "20130524T000000Z",
    authorization:
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
  },
  body: Buffer.alloc(0),
};
const secret = { accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region: "us-east-1", service: "s3" };

describe("the SigV4 oracle of the S3 test server", () => {
  it("accepts AWS's documented example request with its published signature", () => {
    expect(checkSignature(documented, secret)).toEqual({ ok: true });
  });

  it("refuses it when the secret, a signed header, the path or the body differs", () => {
    expect(checkSignature(documented, { ...secret, secretAccessKey: `${secret.secretAccessKey}x` })).toMatchObject({ ok: false, reason: "signature mismatch" });
    expect(checkSignature({ ...documented, headers: { ...documented.headers, range: "bytes=0-10" } }, secret)).toMatchObject({ ok: false, reason: "signature mismatch" });
    expect(checkSignature({ ...documented, url: "/test.txt?x-id=GetObject" }, secret)).toMatchObject({ ok: false, reason: "signature mismatch" });
    expect(checkSignature({ ...documented, url: "/other.txt" }, secret)).toMatchObject({ ok: false, reason: "signature mismatch" });
    expect(checkSignature({ ...documented, body: Buffer.from("x") }, secret)).toMatchObject({ ok: false, reason: "x-amz-content-sha256 is not the body's SHA-256" });
  });

  it("refuses requests without a signature, or signed for another scope", () => {
    const { authorization: _, ...unsigned } = documented.headers;
    expect(checkSignature({ ...documented, headers: unsigned }, secret)).toMatchObject({ ok: false });
    expect(checkSignature(documented, { ...secret, region: "eu-west-3" })).toMatchObject({ ok: false });
    expect(checkSignature(documented, { ...secret, accessKeyId: "AKIDOTHER" })).toMatchObject({ ok: false });
  });
});
