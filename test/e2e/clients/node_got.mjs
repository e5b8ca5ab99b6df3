// Sandbox-side client: got through a proxy agent; CA trust comes from NODE_EXTRA_CA_CERTS.
import got from 'got';
import { HttpsProxyAgent } from 'hpagent';

const [url, header, prefix, envName] = process.argv.slice(2);
const agent = { https: new HttpsProxyAgent({ proxy: process.env.HTTPS_PROXY }) };
const res = await got(url, { headers: { [header]: prefix + process.env[envName] }, agent, throwHttpErrors: false, retry: { limit: 0 } });
process.stdout.write(`${res.statusCode}\n${res.body}`);
