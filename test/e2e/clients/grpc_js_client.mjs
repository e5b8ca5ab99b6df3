// A gRPC client with @grpc/grpc-js configured only by the environment `standin sandbox env`
// gives (grpc_proxy with the proxy credential, NODE_EXTRA_CA_CERTS): unary, bidi streaming, an
// error status and a deadline. Prints one JSON line per call. Usage: grpc_js_client.mjs PROTO TARGET
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const [proto, target] = process.argv.slice(2);
const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(proto));
const client = new pkg.echo.Echo(target, grpc.credentials.createSsl());
const md = () => {
  const m = new grpc.Metadata();
  m.set('authorization', `Bearer ${process.env.GRPC_TOKEN}`);
  m.set('x-api-key', process.env.GRPC_KEY ?? '');
  return m;
};
const print = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

const unary = await new Promise((resolve) => {
  const call = client.Unary({ text: 'hi' }, md(), (err, reply) => resolve({ call: 'unary', err: err?.code ?? null, text: reply?.text }));
  call.on('metadata', (m) => print({ call: 'unary-metadata', echo: m.get('x-echo-auth')[0] ?? null }));
});
print(unary);

const chat = await new Promise((resolve) => {
  const call = client.Chat(md());
  const got = [];
  call.on('data', (m) => got.push(m.text));
  call.on('error', (e) => resolve({ call: 'chat', err: e.code, got }));
  call.on('end', () => resolve({ call: 'chat', err: null, got }));
  let i = 0;
  const next = () => {
    if (i === 5) return call.end();
    call.write({ text: `m${i++}` });
    setTimeout(next, 20);
  };
  next();
});
print(chat);

print(await new Promise((resolve) => client.Fail({ text: 'x' }, md(), (err) => resolve({ call: 'fail', err: err?.code ?? null, details: err?.details }))));
print(await new Promise((resolve) => client.Slow({ text: 'x' }, md(), { deadline: Date.now() + 400 }, (err) => resolve({ call: 'slow', err: err?.code ?? null }))));
client.close();
