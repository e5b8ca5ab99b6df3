// One request with the library named by argv[2], as a program that knows nothing about proxies
// would make it (no agent, no dispatcher, no proxy option). Prints `STATUS <code>` and the body,
// or `ERROR <code> <message>`. Used with the standin preload in NODE_OPTIONS.
import http from 'node:http';
import https from 'node:https';

const [, , library, url] = process.argv;

function viaNode(mod, options = {}) {
  return new Promise((resolve, reject) => {
    mod.get(url, options, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    }).on('error', reject);
  });
}

const libraries = {
  fetch: async () => {
    const r = await fetch(url);
    return { status: r.status, body: await r.text() };
  },
  'node:https': () => viaNode(https),
  // What stripe-node does: its own keep-alive agent, not https.globalAgent.
  'node:https own Agent': () => viaNode(https, { agent: new https.Agent({ keepAlive: true }) }),
  'node:http': () => viaNode(http),
  axios: async () => {
    const { default: axios } = await import('axios');
    const r = await axios.get(url, { responseType: 'text', transformResponse: (x) => x });
    return { status: r.status, body: r.data };
  },
  got: async () => {
    const { default: got } = await import('got');
    const r = await got(url, { retry: { limit: 0 } });
    return { status: r.statusCode, body: r.body };
  },
  'node-fetch': async () => {
    const { default: nodeFetch } = await import('node-fetch');
    const r = await nodeFetch(url);
    return { status: r.status, body: await r.text() };
  },
  // The npm undici (7.x here), which reads the same global dispatcher as Node's bundled one.
  'undici fetch': async () => {
    const { fetch: undiciFetch } = await import('undici');
    const r = await undiciFetch(url);
    return { status: r.status, body: await r.text() };
  },
  'undici request': async () => {
    const { request } = await import('undici');
    const r = await request(url);
    return { status: r.statusCode, body: await r.body.text() };
  },
  // A program that chose its own dispatcher: the preload must not override it.
  'undici own dispatcher': async () => {
    const { Agent, setGlobalDispatcher } = await import('undici');
    setGlobalDispatcher(new Agent());
    const r = await fetch(url);
    return { status: r.status, body: await r.text() };
  },
  // A program with its own proxy agent (its own createConnection): left alone, used as given.
  'hpagent own agent': async () => {
    const { HttpsProxyAgent } = await import('hpagent');
    return viaNode(https, { agent: new HttpsProxyAgent({ proxy: process.env.OWN_PROXY }) });
  },
};

const run = libraries[library];
if (run === undefined) {
  console.log(`ERROR usage unknown library ${library}`);
  process.exit(2);
}
try {
  const r = await run();
  console.log(`STATUS ${r.status}`);
  console.log(r.body);
} catch (e) {
  const cause = e?.cause ?? e;
  console.log(`ERROR ${cause?.code ?? e?.code ?? 'unknown'} ${cause?.message ?? e?.message}`);
  process.exit(1);
}
