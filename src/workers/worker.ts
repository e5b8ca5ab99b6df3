import type { Gateway } from '../gateway.js';
import type { NetLogWriter } from '../netlog/types.js';
import { createRowFileLog, ROWS_DIR_ENV } from './row-file.js';
import { asPrimaryMessage, type WorkerMessage } from './protocol.js';

/** The IPC side of a process started by node:cluster (`process.send` exists there). */
export interface WorkerChannel {
  send(m: WorkerMessage, done?: () => void): void;
  onMessage(fn: (m: unknown) => void): void;
  /** The primary went away (its end of the channel closed). */
  onDisconnect(fn: () => void): void;
}

export function processChannel(proc: NodeJS.Process = process): WorkerChannel {
  return {
    send: (m, done) => {
      if (proc.send === undefined || proc.connected !== true) {
        done?.();
        return;
      }
      proc.send(m, undefined, {}, () => done?.());
    },
    onMessage: (fn) => void proc.on('message', fn),
    onDisconnect: (fn) => void proc.once('disconnect', fn),
  };
}

export interface WorkerRuntime {
  /**
   * The network log to give the gateway: rows go to a file the primary reads; `accepting` is the
   * primary writer's, as it last said (logAccepting messages), so that a worker refuses new
   * exchanges (GW_LOG_UNAVAILABLE) when the primary could not keep their rows.
   */
  netlog: NetLogWriter;
  /** Ports the proxy refuses (the control API's, told by the primary); read live by the gateway. */
  selfPorts: Set<number>;
  /** Reports the gateway as listening and starts sending its gauges. */
  listening(gateway: Gateway): void;
  /** Reports a start-up failure (the CLI's lines for it). */
  failed(lines: string[], exitCode: number): Promise<void>;
  /** Drains the gateway, sends the last rows and a goodbye; resolves once they are written. */
  drain(gateway: Gateway): Promise<void>;
  /** Resolves on SIGTERM, SIGINT or the primary's going away. */
  untilStop(): Promise<void>;
}

const STATS_EVERY_MS = 2_000;

export function workerRuntime(channel: WorkerChannel = processChannel()): WorkerRuntime {
  const rowsDir = process.env[ROWS_DIR_ENV];
  if (rowsDir === undefined || rowsDir === '') throw new Error(`${ROWS_DIR_ENV} is not set: a proxy worker is started by serve`);
  const rows = createRowFileLog(rowsDir);
  let logAccepting = true;
  // Both ends must be able to keep a row: this worker's file and the primary's writer.
  const netlog: NetLogWriter = { ...rows, accepting: () => logAccepting && rows.accepting?.() !== false };
  const selfPorts = new Set<number>();
  channel.onMessage((raw) => {
    const m = asPrimaryMessage(raw);
    if (m?.t === 'selfPorts') for (const p of m.ports) selfPorts.add(p);
    else if (m?.t === 'logAccepting') logAccepting = m.accepting;
  });
  let stats: NodeJS.Timeout | undefined;
  return {
    netlog,
    selfPorts,
    listening(gateway) {
      channel.send({ t: 'listening', host: gateway.address.host, port: gateway.address.port });
      stats = setInterval(() => channel.send({ t: 'stats', stats: gateway.stats() }), STATS_EVERY_MS).unref();
    },
    failed: (lines, exitCode) => new Promise((resolve) => channel.send({ t: 'fatal', lines, exitCode }, resolve)),
    async drain(gateway) {
      if (stats !== undefined) clearInterval(stats);
      await gateway.close();
      netlog.close();
      await new Promise<void>((resolve) => channel.send({ t: 'bye' }, resolve));
    },
    untilStop: () =>
      new Promise((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop).off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop).on('SIGTERM', stop);
        channel.onDisconnect(stop);
      }),
  };
}
