// Sandbox-side client: @aws-sdk/client-s3 with the environment's stand-in pair and endpoint. Node 20
// ignores HTTPS_PROXY (NODE-PITFALLS.md), so the proxy agent is handed to the SDK's handler.
import { readFileSync } from 'node:fs';
import { S3Client, PutObjectCommand, GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { HttpsProxyAgent } from 'hpagent';

const [bucket, key] = process.argv.slice(2);
const httpsAgent = new HttpsProxyAgent({ proxy: process.env.HTTPS_PROXY, ca: readFileSync(process.env.NODE_EXTRA_CA_CERTS) });
const s3 = new S3Client({ region: 'us-east-1', endpoint: process.env.AWS_ENDPOINT_URL, forcePathStyle: true, requestHandler: { httpsAgent } });
const body = 'from the JS SDK\n'.repeat(500);
await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
const got = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body.transformToString();
console.log(JSON.stringify({ keys: (listed.Contents ?? []).map((o) => o.Key), same: got === body }));
