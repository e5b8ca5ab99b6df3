// Starts Debian's nginx (when installed) as a TLS-in/TLS-out reverse proxy in front of the same
// upstream: the practical floor of any two-leg TLS relay. One process (`master_process off`, so
// the pid measured is the one doing the work), no checks, no swap: the client sends the real
// value, as in the direct column. Upstream TLS is verified with the test CA, upstream connections
// are kept alive, bodies are relayed from memory (no temp files). Returns undefined when nginx is
// absent so that the bench skips the column.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { freePort, keepTail, run, start, stop, waitForPort } from './lib/procs.mjs';

export function findNginx() {
  if (process.env.BENCH_NGINX) return existsSync(process.env.BENCH_NGINX) ? process.env.BENCH_NGINX : undefined;
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin']) {
    const p = join(dir, 'nginx');
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

export async function startNginx({ tmp, certDir, upstreamPort, host }) {
  const bin = findNginx();
  if (!bin) return undefined;
  const dir = join(tmp, 'nginx');
  mkdirSync(join(dir, 'temp'), { recursive: true });
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;
master_process off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log stderr warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'temp')};
  proxy_temp_path ${join(dir, 'temp')};
  fastcgi_temp_path ${join(dir, 'temp')};
  uwsgi_temp_path ${join(dir, 'temp')};
  scgi_temp_path ${join(dir, 'temp')};
  upstream bench_upstream {
    server 127.0.0.1:${upstreamPort};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${join(certDir, 'upstream.pem')};
    ssl_certificate_key ${join(certDir, 'upstream-key.pem')};
    keepalive_requests 10000000;
    keepalive_timeout 120s;
    location / {
      proxy_pass https://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_ssl_server_name on;
      proxy_ssl_name ${host};
      proxy_ssl_verify on;
      proxy_ssl_trusted_certificate ${join(certDir, 'test-ca.pem')};
      proxy_ssl_session_reuse on;
      proxy_buffering on;
      proxy_buffer_size 64k;
      proxy_buffers 8 64k;
      proxy_max_temp_file_size 0;
      proxy_read_timeout 120s;
    }
  }
}
`,
  );
  const child = start(bin, ['-p', dir, '-e', 'stderr', '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stderrTail = keepTail(child.stderr);
  const failed = child.exitPromise.then(() => {
    throw new Error(`nginx exited during start-up:\n${stderrTail.join('\n')}`);
  });
  await Promise.race([waitForPort(port, 15_000), failed]);
  const { stderr } = await run(bin, ['-v'], { timeoutMs: 10_000 }).catch(() => ({ stderr: '' }));
  return {
    name: 'nginx',
    version: /nginx\/(\S+)/.exec(stderr)?.[1] ?? 'unknown',
    pid: child.pid,
    port,
    stderrTail,
    stop: () => stop(child, 5_000),
  };
}
