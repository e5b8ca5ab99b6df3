/** RFC 3986 unreserved kept, everything else percent-encoded: how SigV4 writes query components. */
export function encodeQueryComponent(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
