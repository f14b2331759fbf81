/** Response builders shared by the routes. */
import type { ErrorCode } from '../errors.js';
import type { HttpResponse } from './types.js';

export function json(status: number, value: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers }, body: JSON.stringify(value) };
}

/** An error answer: `{"error": CODE, "message": text}`. */
export function fail(status: number, code: ErrorCode, message: string, headers: Record<string, string> = {}): HttpResponse {
  return json(status, { error: code, message }, headers);
}

export function text(status: number, body: string, contentType = 'text/plain; charset=utf-8'): HttpResponse {
  return { status, headers: { 'content-type': contentType }, body };
}
