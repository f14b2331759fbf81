/**
 * Content negotiation of /metrics (docs/contract.md §7): OpenMetrics 1.0.0, OpenMetrics
 * 0.0.1 or Prometheus text 0.0.4 by the Accept header's q-values (negotiator),
 * text 0.0.4 by default; gzip when Accept-Encoding asks for it.
 */
import Negotiator from 'negotiator';

export type Exposition = 'protobuf' | 'openmetrics-1.0.0' | 'openmetrics-0.0.1' | 'text-0.0.4';

const OFFERS: Record<string, Exposition> = {
  'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited': 'protobuf',
  'application/openmetrics-text; version=1.0.0': 'openmetrics-1.0.0',
  'application/openmetrics-text; version=0.0.1': 'openmetrics-0.0.1',
  'text/plain; version=0.0.4': 'text-0.0.4',
};
const OFFER_LIST = Object.keys(OFFERS);

/**
 * Keeps only the parameters that choose a format (version; proto and
 * encoding of the protobuf exposition) and q: a scraper's
 * `escaping=allow-utf-8` or `charset` must not make its choice unmatchable.
 */
function simplify(accept: string): string {
  return accept
    .split(',')
    .map((part) => {
      const [type, ...params] = part.split(';').map((s) => s.trim());
      const kept = params.filter((p) => /^(version|q|proto|encoding)\s*=/i.test(p));
      return [type, ...kept].join(';');
    })
    .join(',');
}

export function negotiateExposition(accept: string | undefined): Exposition {
  if (accept === undefined || accept.trim() === '') return 'text-0.0.4';
  const chosen = new Negotiator({ headers: { accept: simplify(accept) } }).mediaTypes(OFFER_LIST);
  const best = chosen[0];
  if (best === undefined) return 'text-0.0.4';
  // `*/*` alone ranks offers by our order; text 0.0.4 stays the default then
  if (/^\s*\*\/\*\s*(;\s*q=[\d.]+)?\s*$/.test(accept)) return 'text-0.0.4';
  return OFFERS[best] as Exposition;
}

export function wantsGzip(acceptEncoding: string | undefined): boolean {
  if (acceptEncoding === undefined) return false;
  return new Negotiator({ headers: { 'accept-encoding': acceptEncoding } }).encodings(['gzip', 'identity'])[0] === 'gzip';
}
