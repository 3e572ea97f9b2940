import fc from 'fast-check';

/**
 * A line from `seeds` with a slice of up to 40 characters replaced by nothing, a short random string
 * or one of `fragments`: truncation, deletion, insertion of JSON-ish text.
 */
export function textMutations(seeds: readonly string[], fragments: readonly string[]): fc.Arbitrary<string> {
  return fc
    .tuple(
      fc.constantFrom(...seeds),
      fc.nat(),
      fc.nat(40),
      fc.oneof(fc.constant(''), fc.string({ maxLength: 8 }), fc.constantFrom(...fragments)),
    )
    .map(([line, at, len, insert]) => {
      const i = at % (line.length + 1);
      return line.slice(0, i) + insert + line.slice(i + len);
    });
}

/**
 * A line from `seeds` with every scalar value of one of its keys (`keyPattern` matches a key's
 * characters) replaced by an arbitrary JSON value.
 */
export function retypedLines(
  seeds: readonly string[],
  keyPattern: string,
  values: fc.Arbitrary<unknown>,
): fc.Arbitrary<string> {
  const keysRe = new RegExp(`"(${keyPattern}+)":`, 'g');
  return fc.tuple(fc.constantFrom(...seeds), fc.nat(), values).map(([line, pick, value]) => {
    const keys = [...new Set([...line.matchAll(keysRe)].map((m) => m[1] ?? ''))];
    const key = keys[pick % Math.max(1, keys.length)] ?? 'intValue';
    return line.replaceAll(
      new RegExp(`"${key.replaceAll('.', '\\.')}":("[^"]*"|-?[0-9.eE+-]+|true|false|null)`, 'g'),
      `"${key}":${JSON.stringify(value)}`,
    );
  });
}
