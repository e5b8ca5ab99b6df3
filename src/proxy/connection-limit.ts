import { GatewayError } from '../errors.js';

/**
 * Open connections per sandbox, so that one sandbox flooding the gateway with tunnels cannot
 * starve the others. `acquire` returns the release function, idempotent.
 */
export class SandboxConnections {
  private readonly open = new Map<string, number>();

  constructor(private readonly max: number) {}

  acquire(sandboxId: string): () => void {
    const n = this.open.get(sandboxId) ?? 0;
    if (n >= this.max) throw new GatewayError('GW_TOO_MANY_CONNECTIONS', `${n} open`);
    this.open.set(sandboxId, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(sandboxId) ?? 1) - 1;
      if (left <= 0) this.open.delete(sandboxId);
      else this.open.set(sandboxId, left);
    };
  }

  count(sandboxId: string): number {
    return this.open.get(sandboxId) ?? 0;
  }
}
