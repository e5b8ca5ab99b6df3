import type { Command } from 'commander';
import type { CliContext } from './context.js';

export function registerLogUi(_log: Command, _ctx: CliContext): void {
  // filled in below
}
