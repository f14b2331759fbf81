/** KumoMTA records → events (src/event/kumomta.ts): names, flattening, durations. */
import { describe, expect, test } from 'vitest';
import { kumoEvent, MAX_DEPTH, RejectedRecord, rfc3339Micros, snakeCase } from '../../src/event/kumomta.js';

describe('KumoMTA records as events', () => {
  test('every record type gets its snake-case name', () => {
    const names = {
      Reception: 'reception', Delivery: 'delivery', Bounce: 'bounce', TransientFailure: 'transient_failure', Expiration: 'expiration',
      AdminBounce: 'admin_bounce', OOB: 'oob', Feedback: 'feedback', Rejection: 'rejection', AdminRebind: 'admin_rebind',
      DeferredInjectionRebind: 'deferred_injection_rebind', Delayed: 'delayed', XferOut: 'xfer_out', XferIn: 'xfer_in',
    };
    for (const [type, snake] of Object.entries(names)) {
      expect(snakeCase(type)).toBe(snake);
      expect(kumoEvent({ type })).toMatchObject({ event: `kumomta_${snake}`, duration: 0 });
    }
    expect(snakeCase('OOBReport')).toBe('oob_report');
  });

  test('nested objects flatten with _, booleans become text, arrays string lists, nulls go', () => {
    let deep: Record<string, unknown> = { leaf: 'x' };
    for (let i = 0; i < MAX_DEPTH + 2; i++) deep = { d: deep };
    const ev = kumoEvent(
      JSON.parse(
        JSON.stringify({
          type: 'Delivery',
          recipient: ['a@x', 'b@x'],
          response: { code: 250, enhanced_code: { class: 2, subject: 0, detail: 0 }, content: 'OK', command: '.' },
          peer_address: { name: 'mx.', addr: '10.0.0.1', is_secure: true },
          egress_pool: null,
          meta: { tenant: 'acme', list: [1, 'two', false, null, { no: 1 }, ['nested']], deep },
          headers: { 'X-Customer-ID': '7' },
        }),
      ),
    ) as { fields: Record<string, unknown> };
    const f = ev.fields;
    expect({ ...f }).toEqual({
      type: 'Delivery',
      recipient: ['a@x', 'b@x'],
      response_code: 250,
      response_enhanced_code_class: 2,
      response_enhanced_code_subject: 0,
      response_enhanced_code_detail: 0,
      response_enhanced_code: '2.0.0',
      response_content: 'OK',
      response_command: '.',
      peer_address_name: 'mx.',
      peer_address_addr: '10.0.0.1',
      peer_address_is_secure: 'true',
      meta_tenant: 'acme',
      meta_list: ['1', 'two', 'false'],
      'headers_X-Customer-ID': '7',
    });
    // a path of MAX_DEPTH keys is kept, a longer one left out
    let keep: unknown = 'v';
    for (let i = 0; i < MAX_DEPTH - 1; i++) keep = { k: keep };
    const kept = kumoEvent({ type: 'Delivery', m: keep }) as { fields: Record<string, unknown> };
    expect(kept.fields[`m${'_k'.repeat(MAX_DEPTH - 1)}`]).toBe('v');
    const cut = kumoEvent({ type: 'Delivery', m: { k: keep } }) as { fields: Record<string, unknown> };
    expect(Object.keys(cut.fields)).toEqual(['type']);
    // a key __proto__ is a field, not a prototype
    const p = kumoEvent(JSON.parse('{"type":"Bounce","meta":{"__proto__":"x"},"__proto__":{"a":1}}')) as { fields: Record<string, unknown> };
    expect(Object.getPrototypeOf(p.fields)).toBe(null);
    expect(p.fields['meta___proto__']).toBe('x');
    expect(p.fields['__proto___a']).toBe(1);
  });

  test('the duration is timestamp − created in µs, sub-second from event_time and created_time', () => {
    expect(rfc3339Micros('2025-09-12T11:08:01.440526026Z')).toBe(1757675281_440526);
    expect(rfc3339Micros('2025-09-12T13:08:01.5+02:00')).toBe(1757675281_500000);
    expect(rfc3339Micros('2025-09-12 11:08:01Z')).toBe(null);
    const rec = { type: 'Delivery', timestamp: 1757675290, created: 1757675281 };
    expect(kumoEvent(rec)).toMatchObject({ duration: 9_000_000 });
    expect(kumoEvent({ ...rec, event_time: '2025-09-12T11:08:10.000000500Z', created_time: '2025-09-12T11:08:01.440526026Z' })).toMatchObject({ duration: 8_559_474 });
    // one of the two RFC 3339 times alone: the seconds
    expect(kumoEvent({ ...rec, event_time: '2025-09-12T11:08:10.25Z' })).toMatchObject({ duration: 9_000_000 });
    expect(kumoEvent({ type: 'Delivery', timestamp: 5 })).toMatchObject({ duration: 0 });
    expect(kumoEvent({ ...rec, created: [1] })).toBeInstanceOf(RejectedRecord);
  });
});
