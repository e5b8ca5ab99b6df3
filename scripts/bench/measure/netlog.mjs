// After standin has been stopped with SIGTERM (which flushes the log): every request the clients
// sent through it must have exactly one row. Reads the rows through the CLI (`standin log --json`).
export async function checkNetLog(gw, sent, expectedBytesRows) {
  const rows = await gw.logRows();
  const byDecision = {};
  const byError = {};
  let bytesRows = 0;
  const bytesIn = [];
  for (const r of rows) {
    byDecision[r.decision] = (byDecision[r.decision] ?? 0) + 1;
    if (r.errorCode) byError[r.errorCode] = (byError[r.errorCode] ?? 0) + 1;
    if (typeof r.path === 'string' && r.path.startsWith('/bytes')) {
      bytesRows += 1;
      bytesIn.push(r.bytesIn);
    }
  }
  const benchRows = rows.filter((r) => typeof r.sandbox === 'string' && r.sandbox.startsWith('bench'));
  return {
    requestsSent: sent,
    rows: rows.length,
    benchSandboxRows: benchRows.length,
    lost: Math.max(0, sent - rows.length),
    extra: Math.max(0, rows.length - sent),
    byDecision,
    byError,
    streamRows: bytesRows,
    streamRowsExpected: expectedBytesRows,
    streamBytesIn: bytesIn,
  };
}
