import { describe, expect, it } from 'vitest';
import {
  centsToNano,
  formatUsd,
  NANO_PER_USD,
  nanoToUsd,
  parseExactDecimal,
  sumNano,
  usdToNano,
} from '../src/money.js';

describe('usdToNano', () => {
  it('converts decimal strings exactly', () => {
    expect(usdToNano('12.50')).toEqual({ ok: true, nano: 12_500_000_000 });
    expect(usdToNano('-0.3')).toEqual({ ok: true, nano: -300_000_000 });
    expect(usdToNano('0.000000001')).toEqual({ ok: true, nano: 1 });
    expect(usdToNano('.5')).toEqual({ ok: true, nano: 500_000_000 });
    expect(usdToNano(' 7 ')).toEqual({ ok: true, nano: 7_000_000_000 });
    expect(usdToNano('1e-3')).toEqual({ ok: true, nano: 1_000_000 });
    expect(usdToNano('2.5E+2')).toEqual({ ok: true, nano: 250_000_000_000 });
  });

  it('rounds half to even beyond 9 decimals, using every digit', () => {
    expect(usdToNano('0.0000000005')).toEqual({ ok: true, nano: 0 }); // 0.5 nano -> 0
    expect(usdToNano('0.0000000015')).toEqual({ ok: true, nano: 2 }); // 1.5 -> 2
    expect(usdToNano('0.0000000025')).toEqual({ ok: true, nano: 2 }); // 2.5 -> 2
    expect(usdToNano('0.00000000250000000000000001')).toEqual({ ok: true, nano: 3 }); // just above half
    expect(usdToNano('-0.0000000025')).toEqual({ ok: true, nano: -2 });
    expect(usdToNano('-0.0000000004')).toEqual({ ok: true, nano: 0 });
    expect(usdToNano('1.23456789049999999999999')).toEqual({ ok: true, nano: 1_234_567_890 });
  });

  it('takes numbers by their shortest decimal form, so 0.1 is one tenth', () => {
    expect(usdToNano(0.1)).toEqual({ ok: true, nano: 100_000_000 });
    expect(usdToNano(0.1 + 0.2)).toEqual({ ok: true, nano: 300_000_000 }); // 0.30000000000000004
    expect(usdToNano(1e-7)).toEqual({ ok: true, nano: 100 });
    expect(usdToNano(Number.NaN)).toEqual({ ok: false, reason: 'not a finite number: NaN' });
  });

  it('handles big values up to the safe-integer limit and rejects beyond', () => {
    expect(usdToNano('9007199.254740991')).toEqual({ ok: true, nano: Number.MAX_SAFE_INTEGER });
    const over = usdToNano('9007199.254740992');
    expect(over.ok).toBe(false);
    if (!over.ok) expect(over.reason).toContain('out of range');
  });

  it('rejects what is not a plain decimal', () => {
    for (const bad of ['', '1,000.00', '$5', '1.2.3', 'abc', '--1', '.', '1e', '0x10']) {
      const r = usdToNano(bad);
      expect(r.ok, bad).toBe(false);
      if (!r.ok) expect(r.reason, bad).toMatch(/^not a decimal number/);
    }
  });
});

describe('centsToNano (Anthropic cost report amounts)', () => {
  it('converts decimal cents: 1 cent = 10,000,000 nano', () => {
    expect(centsToNano('123.456789')).toEqual({ ok: true, nano: 1_234_567_890 });
    expect(centsToNano('0.00000005')).toEqual({ ok: true, nano: 0 }); // 0.5 nano -> 0
    expect(centsToNano('0.00000015')).toEqual({ ok: true, nano: 2 }); // 1.5 nano -> 2
    expect(centsToNano(250)).toEqual({ ok: true, nano: 2_500_000_000 });
    expect(centsToNano('12.3456789012345678')).toEqual({ ok: true, nano: 123_456_789 });
  });
});

describe('formatting and sums', () => {
  it('formats exactly with grouping and half-even rounding', () => {
    expect(formatUsd(1_234_560_000_000)).toBe('$1,234.56');
    expect(formatUsd(5_000_000)).toBe('$0.00'); // 0.005 -> 0.00 (even)
    expect(formatUsd(15_000_000)).toBe('$0.02'); // 0.015 -> 0.02
    expect(formatUsd(-1_005_000_001)).toBe('-$1.01');
    expect(formatUsd(123_456_789n * 10n ** 12n, 0)).toBe('$123,456,789,000');
    expect(formatUsd(1, 9)).toBe('$0.000000001');
  });

  it('sums exactly past the safe-integer range', () => {
    expect(sumNano([Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 2n])).toBe(18_014_398_509_481_984n);
    expect(sumNano([])).toBe(0n);
    expect(() => sumNano([0.5])).toThrow('nano-USD must be a safe integer');
  });

  it('converts to float USD only at the edge', () => {
    expect(NANO_PER_USD).toBe(1_000_000_000);
    expect(nanoToUsd(1_500_000_000)).toBe(1.5);
    expect(nanoToUsd(12_345_678_901_234_567_890n)).toBe(12_345_678_901.234568);
  });

  it('parses exact decimals with many digits', () => {
    expect(parseExactDecimal('123456789012345678901234567890.123456789')).toEqual({
      ok: true,
      value: { units: 123456789012345678901234567890123456789n, scale: 9 },
    });
  });
});
