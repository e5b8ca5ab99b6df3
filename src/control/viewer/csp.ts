/**
 * Response headers of the log viewer's page, script and data. The CSP lets the page load only its
 * own script and style and talk only to its own origin: even a row that carried markup could not
 * run a script or load anything (and rows are written with textContent anyway).
 */
export const VIEWER_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export const VIEWER_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': VIEWER_CSP,
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};
