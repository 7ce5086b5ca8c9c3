/**
 * Exact Kubernetes resource quantities (`1Gi`, `1.5G`, `500m`, `1e3`), to
 * decide whether a claim would grow or shrink.
 *
 * Exact on purpose: with floating point, `0.067G` parses as a hair more than
 * `67M` (0.067 * 1e9 = 67000000.00000001), and a comparison that should say
 * "equal" says "shrink" or "grow". A quantity is kept as the rational
 * numerator/denominator in BigInts, the way the API server keeps an inf.Dec.
 */

/** A parsed quantity: exactly `numerator / denominator`, denominator > 0. */
export interface ParsedQuantity {
  readonly numerator: bigint;
  readonly denominator: bigint;
}

/** A string that is not a Kubernetes quantity was given where one was required. */
export class QuantityError extends Error {
  override readonly name = 'QuantityError';
}

const BINARY_EXPONENT: Record<string, bigint> = { Ki: 10n, Mi: 20n, Gi: 30n, Ti: 40n, Pi: 50n, Ei: 60n };
const DECIMAL_EXPONENT: Record<string, bigint> = {
  n: -9n,
  u: -6n,
  m: -3n,
  k: 3n,
  M: 6n,
  G: 9n,
  T: 12n,
  P: 15n,
  E: 18n,
};

// The API server's grammar: sign, digits with an optional fraction, then a binary
// suffix, a decimal suffix or a decimal exponent (an integer). No whitespace.
const QUANTITY = /^([+-]?)(\d*)(?:\.(\d*))?(?:(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])|[eE]([+-]?\d+))?$/;

/** Exponents beyond this are refused rather than expanded into huge BigInts. */
const MAX_DECIMAL_EXPONENT = 1000n;

/** The exact value of a quantity, or undefined when the string is not one. */
export function parseQuantity(text: string): ParsedQuantity | undefined {
  const m = QUANTITY.exec(text);
  if (!m) return undefined;
  const [, sign = '', whole = '', fraction = '', suffix, exponent] = m;
  if (whole === '' && fraction === '') return undefined;

  let numerator = BigInt(`${whole}${fraction}` || '0');
  let decimal = -BigInt(fraction.length);
  let binary = 0n;
  if (exponent !== undefined) decimal += BigInt(exponent);
  else if (suffix !== undefined) {
    if (suffix in BINARY_EXPONENT) binary = BINARY_EXPONENT[suffix]!;
    else decimal += DECIMAL_EXPONENT[suffix]!;
  }
  if (decimal > MAX_DECIMAL_EXPONENT || decimal < -MAX_DECIMAL_EXPONENT) return undefined;

  let denominator = 1n;
  if (decimal >= 0n) numerator *= 10n ** decimal;
  else denominator = 10n ** -decimal;
  numerator *= 2n ** binary;
  if (sign === '-') numerator = -numerator;
  return { numerator, denominator };
}

/** -1, 0 or 1, like a comparator. Throws QuantityError on a string that is not a quantity: a guess could shrink a volume. */
export function compareQuantities(a: string, b: string): -1 | 0 | 1 {
  const x = parseQuantity(a);
  if (!x) throw new QuantityError(`not a quantity: ${JSON.stringify(a)}`);
  const y = parseQuantity(b);
  if (!y) throw new QuantityError(`not a quantity: ${JSON.stringify(b)}`);
  const left = x.numerator * y.denominator;
  const right = y.numerator * x.denominator;
  return left < right ? -1 : left > right ? 1 : 0;
}
