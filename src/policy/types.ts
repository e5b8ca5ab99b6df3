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
