/**
 * multipart/form-data (RFC 7578) read just far enough to find and replace a field's content: the
 * body as a latin1 string (one character per byte, so offsets are byte offsets and binary parts
 * survive), split on the boundary delimiter. Anything that does not frame cleanly is undefined:
 * the caller refuses such a body rather than guess.
 */
export interface Part {
  /** The part's `name` from Content-Disposition; null when it has none. */
  name: string | null;
  head: string;
  content: string;
  /** [start, end) of the content in the body. */
  start: number;
  end: number;
}

const MAX_PARTS = 1_000;

export function multipartParts(body: string, boundary: string): Part[] | undefined {
  const delimiter = `--${boundary}`;
  // The first delimiter may start the body; every later one follows a CRLF.
  let at = body.startsWith(delimiter) ? 0 : body.indexOf(`\r\n${delimiter}`);
  if (at < 0) return undefined;
  if (at > 0) at += 2;
  const parts: Part[] = [];
  for (;;) {
    const after = at + delimiter.length;
    if (body.startsWith('--', after)) return parts;
    if (!body.startsWith('\r\n', after) || parts.length >= MAX_PARTS) return undefined;
    const headStart = after + 2;
    const headEnd = body.indexOf('\r\n\r\n', headStart);
    if (headEnd < 0) return undefined;
    const start = headEnd + 4;
    const next = body.indexOf(`\r\n${delimiter}`, start);
    if (next < 0) return undefined;
    const head = body.slice(headStart, headEnd);
    parts.push({ name: partName(head), head, content: body.slice(start, next), start, end: next });
    at = next + 2;
  }
}

export function replacePartContent(body: string, part: Part, content: string): string {
  return `${body.slice(0, part.start)}${content}${body.slice(part.end)}`;
}

function partName(head: string): string | null {
  for (const line of head.split('\r\n')) {
    const m = /^content-disposition:\s*form-data\s*;(.*)$/i.exec(line);
    if (m === null) continue;
    const name = /(?:^|;)\s*name="([^"]*)"/i.exec(m[1] ?? '') ?? /(?:^|;)\s*name=([^\s;"]+)/i.exec(m[1] ?? '');
    return name?.[1] === undefined ? null : Buffer.from(name[1], 'latin1').toString('utf8');
  }
  return null;
}
