import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { CERTS } from './upstream.js';

export interface ApiCall {
  servername: string | null;
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
}

export interface FakeApis {
  port: number;
  calls: ApiCall[];
  close(): Promise<void>;
}

// The smallest answers the official SDKs accept for the calls the SDK tests make.
const ROUTES: Record<string, unknown> = {
  'POST /v1/chat/completions': {
    id: 'chatcmpl-test', object: 'chat.completion', created: 0, model: 'gpt-test',
    choices: [{ index: 0, message: { role: 'assistant', content: 'hello from the fake OpenAI' }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
  },
  'POST /v1/messages': {
    id: 'msg_test', type: 'message', role: 'assistant', model: 'claude-test',
    content: [{ type: 'text', text: 'hello from the fake Anthropic' }],
    stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 1, output_tokens: 1 },
  },
  'GET /user': { login: 'fake-octocat', id: 1, type: 'User' },
  'GET /v1/customers/cus_test': { id: 'cus_test', object: 'customer' },
};

/**
 * Local fakes of the OpenAI, Anthropic, GitHub and Stripe APIs on one HTTPS server (the repo's
 * test certificate, *.standin.test): it records what arrived — so a test can see the real value
 * got there — and never echoes a credential back.
 */
export async function startFakeApis(): Promise<FakeApis> {
  const calls: ApiCall[] = [];
  const server: Server = createServer({ cert: readFileSync(join(CERTS, 'upstream.pem')), key: readFileSync(join(CERTS, 'upstream-key.pem')) }, (req, res) => {
    req.resume();
    req.on('end', () => {
      const socket = req.socket as unknown as { servername?: string | false };
      calls.push({ servername: typeof socket.servername === 'string' ? socket.servername : null, method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      const body = ROUTES[`${req.method ?? ''} ${(req.url ?? '').split('?')[0] ?? ''}`];
      res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json', 'request-id': 'req_test' });
      res.end(JSON.stringify(body ?? { error: { type: 'not_found', message: 'no such route in the fake' } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    calls,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
