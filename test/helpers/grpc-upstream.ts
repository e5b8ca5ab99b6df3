import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { CERTS } from './upstream.js';

export const ECHO_PROTO = join(import.meta.dirname, 'echo.proto');

interface Msg {
  text: string;
}

export interface GrpcCall {
  method: string;
  authorization: string;
  apiKey: string;
  /** Whether the call was cancelled (a deadline or a client's RST_STREAM reached the server). */
  cancelled: boolean;
}

export interface GrpcUpstream {
  port: number;
  calls: GrpcCall[];
  close(): Promise<void>;
}

function metadataOf(method: string, md: grpc.Metadata): GrpcCall {
  return { method, authorization: String(md.get('authorization')[0] ?? ''), apiKey: String(md.get('x-api-key')[0] ?? ''), cancelled: false };
}

/**
 * A real gRPC server (@grpc/grpc-js) over TLS with the test certificate for *.standin.test. Each
 * method reflects the credentials it received (authorization and x-api-key metadata) back: in
 * the reply message (Unary, each Chat reply), in the status message (Fail), so tests can prove
 * the sandbox never reads them. Slow answers after 3 s, to test deadlines.
 */
export async function startGrpcUpstream(): Promise<GrpcUpstream> {
  const calls: GrpcCall[] = [];
  const def = protoLoader.loadSync(ECHO_PROTO);
  const pkg = grpc.loadPackageDefinition(def) as unknown as { echo: { Echo: grpc.ServiceClientConstructor } };
  const server = new grpc.Server();
  server.addService(pkg.echo.Echo.service, {
    Unary: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      const c = metadataOf('Unary', call.metadata);
      calls.push(c);
      const md = new grpc.Metadata();
      md.set('x-echo-auth', c.authorization);
      call.sendMetadata(md);
      cb(null, { text: `got ${call.request.text} auth=${c.authorization} key=${c.apiKey}` });
    },
    Chat: (call: grpc.ServerDuplexStream<Msg, Msg>) => {
      const c = metadataOf('Chat', call.metadata);
      calls.push(c);
      call.on('data', (m: Msg) => call.write({ text: `echo ${m.text} auth=${c.authorization}` }));
      call.on('end', () => call.end());
      call.on('cancelled', () => (c.cancelled = true));
    },
    Fail: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      const c = metadataOf('Fail', call.metadata);
      calls.push(c);
      cb({ code: grpc.status.PERMISSION_DENIED, details: `denied for ${c.authorization}` });
    },
    Slow: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      const c = metadataOf('Slow', call.metadata);
      calls.push(c);
      call.on('cancelled', () => (c.cancelled = true));
      const timer = setTimeout(() => cb(null, { text: 'late' }), 3_000);
      call.on('cancelled', () => clearTimeout(timer));
    },
  });
  const creds = grpc.ServerCredentials.createSsl(null, [
    { cert_chain: readFileSync(join(CERTS, 'upstream.pem')), private_key: readFileSync(join(CERTS, 'upstream-key.pem')) },
  ]);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', creds, (e, p) => (e ? reject(e) : resolve(p))));
  return {
    port,
    calls,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
