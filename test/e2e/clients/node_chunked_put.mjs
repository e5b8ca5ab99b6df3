// Sandbox-side client: a PUT with signed aws-chunked encoding (STREAMING-AWS4-HMAC-SHA256-PAYLOAD,
// as the Java SDK and others send uploads), signed with the environment's stand-in pair by the AWS
// SDK's own signer. Node 20 ignores HTTPS_PROXY, so the proxy agent is given explicitly.
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { HttpRequest } from '@smithy/core/protocols';
import { Hash } from '@smithy/core/serde';
import { SignatureV4 } from '@smithy/signature-v4';
import { HttpsProxyAgent } from 'hpagent';

const [url, chunks, chunkSize] = [new URL(process.argv[2]), Number(process.argv[3]), Number(process.argv[4])];
const creds = { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY };
const signer = new SignatureV4({ credentials: creds, region: 'us-east-1', service: 's3', sha256: Hash.bind(null, 'sha256'), uriEscapePath: false });
const parts = Array.from({ length: chunks }, (_, i) => Buffer.alloc(chunkSize, 97 + (i % 26)));
const decoded = parts.reduce((n, p) => n + p.length, 0);
const date = new Date();
const frame = (size, sig) => `${size.toString(16)};chunk-signature=${sig}\r\n`;
const encodedLength = [...parts, Buffer.alloc(0)].reduce((n, p) => n + frame(p.length, '0'.repeat(64)).length + p.length + 2, 0);
const head = await signer.sign(new HttpRequest({
  method: 'PUT', protocol: 'https:', hostname: url.hostname, path: url.pathname,
  headers: { host: url.host, 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(decoded), 'content-length': String(encodedLength) },
}), { signingDate: date });
let prior = /Signature=([0-9a-f]{64})/.exec(head.headers.authorization)[1];
const agent = new HttpsProxyAgent({ proxy: process.env.HTTPS_PROXY, ca: readFileSync(process.env.NODE_EXTRA_CA_CERTS) });
const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'PUT', headers: head.headers, agent, ca: readFileSync(process.env.NODE_EXTRA_CA_CERTS) });
req.on('response', (res) => {
  let text = '';
  res.on('data', (c) => (text += c));
  res.on('end', () => console.log(JSON.stringify({ status: res.statusCode, body: text.slice(0, 500), decoded })));
});
for (const data of [...parts, Buffer.alloc(0)]) {
  const sig = await signer.sign({ headers: new Uint8Array(0), payload: data }, { signingDate: date, priorSignature: prior });
  prior = sig;
  req.write(Buffer.concat([Buffer.from(frame(data.length, sig)), data, Buffer.from('\r\n')]));
}
req.end();
