/** A parsed, canonical destination: the only authority for scope decisions. */
export interface Target {
  /** Lower-case host name without trailing dot, or an IP literal (IPv6 without brackets). */
  host: string;
  port: number;
  kind: 'name' | 'ipv4' | 'ipv6';
}

/** A destination address the gateway checked and will connect to, and nothing else. */
export interface CheckedAddress {
  address: string;
  family: 4 | 6;
}

/** `--allow-dest IP[:PORT]|CIDR`: an exception to the private-address refusal. */
export interface AllowDest {
  /** CIDR network; a single IP is a /32 or /128. */
  network: string;
  prefix: number;
  family: 4 | 6;
  port: number | null; // null = any port
}

export interface ResolverOptions {
  /** `--resolve HOST=IP` overrides, host canonical. */
  overrides: ReadonlyMap<string, string>;
  allowDest: readonly AllowDest[];
  /** DNS lookup returning every address; injectable for unit tests. */
  lookup?: (host: string) => Promise<{ address: string; family: number }[]>;
}
