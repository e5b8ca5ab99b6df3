import { inspect } from 'node:util';

const REDACTED = '[secret]';

/**
 * A real credential. Printing, JSON-serialising or inspecting it yields `[secret]`, so a value
 * that ends up in a log call, an error or a template by mistake does not leak. The only way to
 * the plaintext is `expose()`, which is greppable and used only where a value is applied to an
 * outgoing request or encrypted for storage.
 */
export class SecretValue {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  expose(): string {
    return this.#value;
  }

  get length(): number {
    return this.#value.length;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }

  [Symbol.toPrimitive](): string {
    return REDACTED;
  }
}
