/**
 * The exact kind: a sorted Float64Array of every value. Used while a
 * distribution holds at most INLINE_MAX values.
 */
import type { ValuesHist } from './types.js';

/**
 * Values kept exactly before a distribution becomes an HDR histogram: as many
 * as Dovecot's reservoir, so up to there figures are exact as in Dovecot.
 */
export const INLINE_MAX = 480;

const EMPTY = new Float64Array(0);

export function valuesHist(sorted: Float64Array): ValuesHist {
  return { kind: 'values', values: sorted.length === 0 ? EMPTY : sorted };
}

/** merge two ascending lists into a new one */
export function mergeValues(a: Float64Array, b: Float64Array): ValuesHist {
  const out = new Float64Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) {
    const x = a[i] as number;
    const y = b[j] as number;
    if (y < x) {
      out[k++] = y;
      j++;
    } else {
      out[k++] = x;
      i++;
    }
  }
  while (i < a.length) out[k++] = a[i++] as number;
  while (j < b.length) out[k++] = b[j++] as number;
  return valuesHist(out);
}
