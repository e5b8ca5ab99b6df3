/**
 * @peculiar/x509 2.x registers its algorithm providers through tsyringe, which refuses to load
 * unless a Reflect metadata API exists ("tsyringe requires a reflect polyfill"). The library no
 * longer ships one. tsyringe only calls getMetadata, getOwnMetadata and defineMetadata, so this
 * installs exactly those three, once, and only when no real polyfill (reflect-metadata) is
 * present. Import this module before '@peculiar/x509' in every module that imports it: ES module
 * imports are evaluated in order.
 *
 * The metadata table lives on the global Reflect object, because that is where tsyringe looks;
 * it holds only the library's own class registrations, never request data.
 */

type MetadataKey = string | symbol;
type Table = WeakMap<object, Map<MetadataKey, unknown>>;

interface ReflectMetadataApi {
  getMetadata(key: MetadataKey, target: object): unknown;
  getOwnMetadata(key: MetadataKey, target: object): unknown;
  defineMetadata(key: MetadataKey, value: unknown, target: object): void;
}

function install(): void {
  const reflect = Reflect as typeof Reflect & Partial<ReflectMetadataApi>;
  if (typeof reflect.getMetadata === 'function') return;
  const table: Table = new WeakMap();
  const own = (key: MetadataKey, target: object): unknown => table.get(target)?.get(key);
  const api: ReflectMetadataApi = {
    getOwnMetadata: own,
    getMetadata(key, target) {
      // Like reflect-metadata: look up the prototype chain.
      for (let t: object | null = target; t !== null; t = Object.getPrototypeOf(t) as object | null) {
        const found = table.get(t);
        if (found?.has(key)) return found.get(key);
      }
      return undefined;
    },
    defineMetadata(key, value, target) {
      let entries = table.get(target);
      if (!entries) {
        entries = new Map();
        table.set(target, entries);
      }
      entries.set(key, value);
    },
  };
  for (const [name, fn] of Object.entries(api)) {
    Object.defineProperty(Reflect, name, { value: fn, writable: true, configurable: true, enumerable: false });
  }
}

install();

export {};
