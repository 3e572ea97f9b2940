/**
 * A process and its children as Linux's /proc shows them, for tests that start daemons which outlive
 * the command that started them (pg_ctl): who is alive, who is still unreaped, kill them all.
 */
import { readdirSync, readFileSync } from 'node:fs';

export function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/** Whether `pid` runs (a zombie nobody reaped does not). */
export function isAlive(pid: number): boolean {
  const state = processState(pid);
  return state !== undefined && state !== 'Z' && state !== 'X';
}

export function childrenOf(parent: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) out.push(Number(entry));
    } catch {
      // exited while scanning
    }
  }
  return out;
}

/**
 * Waits until none of `pids` runs; with `reaped`, until none exists at all: a new postmaster takes a
 * killed one's unreaped zombie (its parent is init once pg_ctl exits) for a live server and refuses.
 */
export async function waitGone(pids: number[], timeoutMs: number, reaped = false): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const left = () => pids.filter((pid) => (reaped ? processState(pid) !== undefined : isAlive(pid)));
  while (left().length > 0) {
    if (Date.now() > deadline) {
      throw new Error(
        `postgres processes ${left()} still ${reaped ? 'unreaped' : 'alive'} after ${timeoutMs} ms`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
