/** Headers in wire order, names as received (never a joined convenience view). */
export type HeaderList = [name: string, value: string][];

// RFC 9110 §7.6.1 connection-specific fields, plus the proxy's own. They describe one hop and
// must never cross the gateway in either direction.
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization',
  'te', 'trailer', 'transfer-encoding', 'upgrade', 'http2-settings',
]);

/** Headers that only the gateway may set on what the sandbox receives. */
export const GATEWAY_HEADER_PREFIX = 'x-standin-';

export function fromRaw(raw: readonly string[]): HeaderList {
  const list: HeaderList = [];
  for (let i = 0; i + 1 < raw.length; i += 2) list.push([raw[i] as string, raw[i + 1] as string]);
  return list;
}

export function toRaw(list: HeaderList): string[] {
  const raw: string[] = [];
  for (const [n, v] of list) raw.push(n, v);
  return raw;
}

export function countHeader(list: HeaderList, name: string): number {
  let n = 0;
  for (const [k] of list) if (k.toLowerCase() === name) n++;
  return n;
}

/** Every value of a header, in order (a list split over several lines is still one list). */
export function headerValues(list: HeaderList, name: string): string[] {
  const out: string[] = [];
  for (const [k, v] of list) if (k.toLowerCase() === name) out.push(v);
  return out;
}

export function headerValue(list: HeaderList, name: string): string | undefined {
  for (const [k, v] of list) if (k.toLowerCase() === name) return v;
  return undefined;
}

/** Names listed in Connection are hop-by-hop for this message too. */
function connectionListed(list: HeaderList): Set<string> {
  const named = new Set<string>();
  for (const [k, v] of list) {
    if (k.toLowerCase() !== 'connection') continue;
    for (const token of v.split(',')) named.add(token.trim().toLowerCase());
  }
  return named;
}

/**
 * What may go upstream: everything but hop-by-hop and proxy fields. For a WebSocket handshake
 * the caller re-adds `Connection: Upgrade` and `Upgrade` itself.
 */
export function stripHopByHop(list: HeaderList): HeaderList {
  const listed = connectionListed(list);
  return list.filter(([k]) => {
    const name = k.toLowerCase();
    return !HOP_BY_HOP.has(name) && !name.startsWith('proxy-') && !listed.has(name);
  });
}

/** What may go back to the sandbox: no hop-by-hop fields and nothing that looks like ours. */
export function stripForClient(list: HeaderList): HeaderList {
  return stripHopByHop(list).filter(([k]) => !k.toLowerCase().startsWith(GATEWAY_HEADER_PREFIX));
}

export function withoutHeader(list: HeaderList, name: string): HeaderList {
  return list.filter(([k]) => k.toLowerCase() !== name);
}

export function mapHeader(list: HeaderList, name: string, f: (value: string) => string): HeaderList {
  return list.map(([k, v]) => (k.toLowerCase() === name ? [k, f(v)] : [k, v]));
}
