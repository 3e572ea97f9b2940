import type { ServiceType } from '@spendline/sdk/contract';
import { usdToNano } from '@spendline/sdk/core';

/**
 * A non-negative USD amount to exact nano-USD, or null. Fast path for the common double with at most
 * 9 decimals: if round(x * 1e9) / 1e9 is x itself, x's shortest decimal is exactly that many nanos
 * (true below ~4.5 M USD, where doubles are finer than 1e-9), which is what usdToNano would return.
 */
export function usdToNanoOrNull(v: string | number): number | null {
  if (typeof v === 'number' && v >= 0 && v < 1e6) {
    const nano = Math.round(v * 1e9);
    // `+ 0` turns -0 into 0, as usdToNano does.
    if (nano / 1e9 === v) return nano + 0;
  }
  const money = usdToNano(v);
  return money.ok && money.nano >= 0 ? money.nano : null;
}

/** `spendline.service.type` when valid, else derived from the operation. */
export function serviceTypeOf(declared: string, operation: string): ServiceType {
  if (declared === 'llm' || declared === 'embedding' || declared === 'ocr') return declared;
  if (operation === 'embeddings') return 'embedding';
  if (operation === 'ocr') return 'ocr';
  return 'llm';
}
