// Sandbox-side client: fetch through undici's ProxyAgent; CA trust comes from NODE_EXTRA_CA_CERTS.
import { fetch, ProxyAgent } from 'undici';

const [url, header, prefix, envName] = process.argv.slice(2);
const res = await fetch(url, { headers: { [header]: prefix + process.env[envName] }, dispatcher: new ProxyAgent(process.env.HTTPS_PROXY) });
process.stdout.write(`${res.status}\n${await res.text()}`);
