/**
 * The built `spendline sidecar` (a child process, SQLite ledger) over an export directory holding what a
 * fleet can put there besides JSON lines: the file exporter's binary variants (`format: proto`,
 * `compression: zstd` framed and as a stream), a file it may not read, a FIFO, a directory and a device
 * matched by the glob; and files deleted or truncated before their last bytes were read. It counts the
 * JSON exactly once, never stalls, says once which file it cannot read and why (log, /metrics,
 * /api/pipeline), and counts the bytes it lost.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, mkdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, waitForHttpOk } from '../../test/support/ports.js';
import { encodeOtlpProtobuf } from '../src/receiver/otlpProto.js';
import { sumSamples } from './support/metricsText.js';
import { generateUsageLines } from './support/otlpLines.js';
import { ledgerTotals, tempDir } from './support/sidecarHarness.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const children: ChildProcess[] = [];
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const c of cleanups.splice(0)) c();
});

/**
 * Root reads any file: run as root, the sidecar is started without the capabilities that let it
 * (util-linux `setpriv`), so a file of mode 000 is as unreadable to it as to any other user, while it
 * still reads the repository and its state directory as their owner.
 */
const asRoot = process.getuid?.() === 0;
const WITHOUT_DAC = [
  '--inh-caps=-dac_override,-dac_read_search',
  '--bounding-set=-dac_override,-dac_read_search',
];

function startCli(glob: string, state: string, port: number) {
  const args = [
    CLI,
    'sidecar',
    '--otlp-file',
    glob,
    '--state-dir',
    state,
    '--listen',
    `127.0.0.1:${port}`,
    '--poll-interval',
    '10ms',
    '--first-increment-hold',
    '0s',
  ];
  const child = spawn(
    asRoot ? 'setpriv' : process.execPath,
    asRoot ? [...WITHOUT_DAC, '--', process.execPath, ...args] : args,
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, SPENDLINE_LEDGER_URL: '' } },
  );
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  return { child, stderr: () => stderr };
}

/** A zstd frame holding `data` uncompressed (one raw block): what a zstd encoder may emit, and valid. */
function zstdFrame(data: Buffer): Buffer {
  if (data.length > 0xffff) throw new Error('one raw block of up to 64 KiB here');
  const header = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xa0, 0, 0, 0, 0]); // single segment, 4-byte size
  header.writeUInt32LE(data.length, 5);
  const block = Buffer.alloc(3);
  block.writeUIntLE(1 | (data.length << 3), 0, 3); // last block, raw
  return Buffer.concat([header, block, data]);
}

/** What the file exporter writes for a binary message: its length (uint32, big-endian), then it. */
function lengthPrefixed(message: Uint8Array): Buffer {
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(message.length);
  return Buffer.concat([prefix, message]);
}

async function metricsOf(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

/** Waits until `/metrics` satisfies `done` (budget: 4x what it takes here, on a loaded machine). */
async function waitForMetrics(port: number, done: (text: string) => boolean, what: string): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const text = await metricsOf(port);
    if (done(text)) return text;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const lines = (ls: string[]) => ls.map((l) => `${l}\n`).join('');

describe('spendline sidecar over hostile export files', () => {
  it('counts the JSON exactly once, reports binary and unreadable files once, and counts lost bytes', async () => {
    const t = tempDir('spendline-hostile-files-');
    cleanups.push(t.cleanup);
    const exportDir = join(t.dir, 'export');
    const state = join(t.dir, 'state');
    mkdirSync(exportDir);
    mkdirSync(state);
    const g = generateUsageLines({ records: 120, perLine: 4, seed: 11 });
    const [a, b, c] = [g.lines.slice(0, 10), g.lines.slice(10, 20), g.lines.slice(20)];
    const json = JSON.parse(a[0] as string) as Record<string, unknown>;
    const proto = encodeOtlpProtobuf('logs', json);

    const good = join(exportDir, 'genai.json');
    writeFileSync(good, lines(a));
    // A rotated backup whose last line was never finished (the collector was killed mid-write).
    const backup = join(exportDir, 'genai-2026-11-30T10-00-00.000.json');
    writeFileSync(backup, `${lines(b.slice(0, 5))}{"resourceLogs":[`);
    const files = {
      proto: join(exportDir, 'proto.json'),
      zstdFramed: join(exportDir, 'zstd-framed.json'),
      zstdStream: join(exportDir, 'zstd-stream.json'),
      denied: join(exportDir, 'denied.json'),
      utf16: join(exportDir, 'utf16.json'),
    };
    writeFileSync(files.proto, Buffer.concat([lengthPrefixed(proto), lengthPrefixed(proto)]));
    writeFileSync(files.zstdFramed, lengthPrefixed(zstdFrame(Buffer.from(a[1] as string))));
    writeFileSync(files.zstdStream, zstdFrame(Buffer.from(`${a[2]}\n`)));
    writeFileSync(files.denied, lines(c.slice(0, 3)));
    // A JSONL-ish file as Windows PowerShell 5 writes it by default: UTF-16LE with a byte order mark.
    writeFileSync(
      files.utf16,
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(lines([a[3] as string]), 'utf16le')]),
    );
    chmodSync(files.denied, 0o000);
    // Matched by the glob, never files to read: a FIFO nobody writes to, a directory, a device.
    expect(spawnSync('mkfifo', [join(exportDir, 'fifo.json')]).status).toBe(0);
    mkdirSync(join(exportDir, 'dir.json'));
    symlinkSync('/dev/zero', join(exportDir, 'zero.json'));

    const port = await freePort();
    const { child, stderr } = startCli(join(exportDir, '*.json'), state, port);
    await waitForHttpOk(`http://127.0.0.1:${port}/readyz`, 60_000, () => child.exitCode === null).catch(
      (err: Error) => {
        throw new Error(`${err.message}\n${stderr()}`);
      },
    );
    const firstLines = [...a, ...b.slice(0, 5)];
    let text = await waitForMetrics(
      port,
      (m) => sumSamples(m, 'spendline_records_total', 'result').counted === firstLines.length * 4,
      'the JSON lines',
    );
    const unreadable = (m: string) => {
      const out: Record<string, string> = {};
      for (const line of m.split('\n')) {
        const match = /^spendline_unreadable_file_bytes\{file="([^"]+)",reason="([^"]+)"\} (\d+)$/.exec(line);
        if (match !== null) out[match[1] as string] = `${match[2]} ${match[3]}`;
      }
      return out;
    };
    const size = (p: string) => statSync(p).size;
    expect(unreadable(text)).toEqual({
      [files.proto]: `proto ${size(files.proto)}`,
      [files.zstdFramed]: `zstd ${size(files.zstdFramed)}`,
      [files.zstdStream]: `zstd ${size(files.zstdStream)}`,
      [files.denied]: `permission_denied ${size(files.denied)}`,
      [files.utf16]: `utf16 ${size(files.utf16)}`,
    });
    // Binary bytes were never taken for broken JSON lines.
    expect(sumSamples(text, 'spendline_records_total', 'result').rejected).toBeUndefined();

    // More polls, more lines: each unreadable file is logged once, not once per poll.
    for (let round = 0; round < 5; round++) {
      appendFileSync(good, lines([c[3 + round] as string]));
      const want = (firstLines.length + round + 1) * 4;
      text = await waitForMetrics(
        port,
        (m) => sumSamples(m, 'spendline_records_total', 'result').counted === want,
        `round ${round}`,
      );
    }
    for (const [path, reason] of [
      [files.proto, 'proto'],
      [files.zstdFramed, 'zstd'],
      [files.zstdStream, 'zstd'],
      [files.denied, 'permission_denied'],
      [files.utf16, 'utf16'],
    ] as const) {
      const said = stderr()
        .split('\n')
        .filter((l) => l.includes(`cannot read ${JSON.stringify(path)} (${reason}`));
      expect(said, stderr()).toHaveLength(1);
    }
    const pipeline = (await (await fetch(`http://127.0.0.1:${port}/api/pipeline`)).json()) as {
      unreadable_files: { file: string; reason: string; bytes: number }[];
      lost_bytes: Record<string, number>;
    };
    expect(pipeline.unreadable_files.map((u) => `${u.reason} ${u.file}`).sort()).toEqual(
      [
        `proto ${files.proto}`,
        `zstd ${files.zstdFramed}`,
        `zstd ${files.zstdStream}`,
        `permission_denied ${files.denied}`,
        `utf16 ${files.utf16}`,
      ].sort(),
    );
    expect(pipeline.lost_bytes).toEqual({});

    // The backup's unfinished line is deleted with it: lost, and said so. The proto file is rewritten
    // as JSON (its exporter reconfigured): read from its start. The denied file becomes readable.
    rmSync(backup);
    writeFileSync(files.proto, lines(b.slice(5)));
    chmodSync(files.denied, 0o644);
    const all = [...firstLines, ...c.slice(3, 8), ...b.slice(5), ...c.slice(0, 3)];
    text = await waitForMetrics(
      port,
      (m) =>
        sumSamples(m, 'spendline_records_total', 'result').counted === all.length * 4 &&
        sumSamples(m, 'spendline_lost_bytes_total', 'reason').deleted === '{"resourceLogs":['.length,
      'the lost bytes and the files made readable',
    );
    expect(unreadable(text)).toEqual({
      [files.zstdFramed]: `zstd ${size(files.zstdFramed)}`,
      [files.zstdStream]: `zstd ${size(files.zstdStream)}`,
      [files.utf16]: `utf16 ${size(files.utf16)}`,
    });

    // A partial line cut off by a truncation (the collector restarted without append) is lost too.
    appendFileSync(good, '{"resourceSpans":[');
    await waitForMetrics(
      port,
      (m) => sumSamples(m, 'spendline_unread_bytes', 'file')[good] === '{"resourceSpans":['.length,
      'the partial line seen',
    );
    writeFileSync(good, lines([c[8] as string]));
    // writeFileSync truncates, then writes: a poll in between sees the truncation before the new line.
    text = await waitForMetrics(
      port,
      (m) =>
        sumSamples(m, 'spendline_lost_bytes_total', 'reason').truncated === '{"resourceSpans":['.length &&
        sumSamples(m, 'spendline_records_total', 'result').counted === (all.length + 1) * 4,
      'the truncated bytes and the new line',
    );
    expect(sumSamples(text, 'spendline_records_total', 'result').counted).toBe((all.length + 1) * 4);

    // kill -9 and restart: nothing counted twice, the lost bytes restored from the ledger.
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const port2 = await freePort();
    const second = startCli(join(exportDir, '*.json'), state, port2);
    await waitForHttpOk(`http://127.0.0.1:${port2}/readyz`, 60_000, () => second.child.exitCode === null);
    text = await metricsOf(port2);
    expect(sumSamples(text, 'spendline_records_total', 'result').counted).toBe((all.length + 1) * 4);
    expect(sumSamples(text, 'spendline_lost_bytes_total', 'reason')).toEqual({
      deleted: '{"resourceLogs":['.length,
      truncated: '{"resourceSpans":['.length,
    });
    expect(second.stderr().match(/cannot read .*zstd-stream\.json" \(zstd: a zstd stream/g)).toHaveLength(1);
    const exit = new Promise((r) => second.child.once('exit', (code) => r(code)));
    second.child.kill('SIGTERM');
    expect(await exit).toBe(0);
    // The ledger holds every record of every JSON line read, once (4 records a line).
    expect(await ledgerTotals(state)).toMatchObject({ requests: (all.length + 1) * 4 });
  }, 240_000);
});
