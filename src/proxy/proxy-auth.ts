/**
 * `Proxy-Authorization: Basic base64(sandbox:key)` → credentials, or undefined when absent or
 * malformed. Only the first colon separates name from key (keys have none, names may not).
 */
export function parseProxyAuthorization(value: string | undefined): { name: string; key: string } | undefined {
  if (value === undefined) return undefined;
  const m = /^basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(value);
  if (!m || m[1] === undefined) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { name: decodeURIComponentSafe(decoded.slice(0, colon)), key: decodeURIComponentSafe(decoded.slice(colon + 1)) };
}

// Clients take the credential from HTTPS_PROXY's userinfo; some leave it percent-encoded.
function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
