/**
 * Runs a decision that may be synchronous or a promise and hands the result on, without a
 * microtask turn when nothing was async. Errors from either side go to `fail`, once.
 */
export function settle<T>(run: () => T | Promise<T>, ok: (value: T) => void, fail: (e: unknown) => void): void {
  let result: T | Promise<T>;
  try {
    result = run();
  } catch (e) {
    fail(e);
    return;
  }
  const deliver = (value: T): void => {
    try {
      ok(value);
    } catch (e) {
      fail(e);
    }
  };
  if (result instanceof Promise) result.then(deliver, fail);
  else deliver(result);
}
