/**
 * Where each string literal of a JSON text is, and the dotted path of the value it is
 * (`messages.0.content`; keys are null). The text is checked with JSON.parse first, so the walk
 * below can trust its grammar; it keeps one path stack (no copies per level) and gives up on
 * nesting deeper than MAX_DEPTH rather than recurse without bound.
 */
export interface StringSpan {
  /** Dotted path of the value; null for an object key. */
  path: string | null;
  /** [start, end) of the literal in the text, quotes included. */
  start: number;
  end: number;
}

const MAX_DEPTH = 256;

export function jsonStringSpans(text: string): StringSpan[] | undefined {
  try {
    JSON.parse(text);
  } catch {
    return undefined;
  }
  const out: StringSpan[] = [];
  const path: string[] = [];
  let i = 0;
  const ws = (): void => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const literal = (): [number, number] => {
    const start = i++;
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return [start, i];
  };
  const value = (depth: number): boolean => {
    if (depth > MAX_DEPTH) return false;
    ws();
    const c = text[i];
    if (c === '"') {
      const [start, end] = literal();
      out.push({ path: path.join('.'), start, end });
      return true;
    }
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      ws();
      if (text[i] === close) {
        i++;
        return true;
      }
      for (let n = 0; ; n++) {
        ws();
        if (c === '{') {
          const [start, end] = literal();
          out.push({ path: null, start, end });
          path.push(String(JSON.parse(text.slice(start, end))));
          ws();
          i++; // ':'
        } else {
          path.push(String(n));
        }
        const ok = value(depth + 1);
        path.pop();
        if (!ok) return false;
        ws();
        if (text[i++] !== ',') return true;
      }
    }
    // A number, true, false or null: no string inside.
    while (i < text.length && !',]} \t\r\n'.includes(text[i] ?? '')) i++;
    return true;
  };
  return value(0) ? out : undefined;
}
