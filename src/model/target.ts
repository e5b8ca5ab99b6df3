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
