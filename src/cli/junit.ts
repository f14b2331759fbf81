/**
 * `--junit FILE`: assertion results as JUnit XML (one testsuite, one
 * testcase per assertion, a `failure` element for each that failed), the
 * shape CI systems (GitLab, Jenkins, GitHub test reporters) read.
 */
import { writeFileSync } from 'node:fs';
import { formatMeasured, type AssertResult } from './assert.js';

/** XML 1.0 text or attribute value: markup escaped, characters XML cannot hold replaced by U+FFFD. */
export function xmlEscape(s: string): string {
  return s
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;')
    .replace(/\t/g, '&#9;');
}

export function renderJunit(results: readonly AssertResult[], opts: { suite: string; files: readonly string[]; timeSeconds: number }): string {
  const failures = results.filter((r) => !r.pass).length;
  const time = opts.timeSeconds.toFixed(3);
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${xmlEscape(opts.suite)}" tests="${results.length}" failures="${failures}" errors="0" time="${time}">`,
    `  <testsuite name="${xmlEscape(opts.suite)}" tests="${results.length}" failures="${failures}" errors="0" skipped="0" time="${time}" timestamp="${new Date().toISOString().slice(0, 19)}">`,
    '    <properties>',
    ...opts.files.map((f) => `      <property name="file" value="${xmlEscape(f)}"/>`),
    '    </properties>',
  ];
  for (const r of results) {
    const a = r.assertion;
    const head = `    <testcase classname="${xmlEscape(opts.suite)}.${xmlEscape(a.metric)}" name="${xmlEscape(a.text)}" time="0">`;
    if (r.pass) {
      out.push(`${head.slice(0, -1)}/>`);
      continue;
    }
    const message = r.missing ?? `measured ${r.measured.map(formatMeasured).join(', ')}, expected ${a.op} ${a.value}`;
    out.push(head, `      <failure type="assertion" message="${xmlEscape(message)}">${xmlEscape(`${a.text}: ${message}`)}</failure>`, '    </testcase>');
  }
  out.push('  </testsuite>', '</testsuites>', '');
  return out.join('\n');
}

export function writeJunit(path: string, xml: string): void {
  writeFileSync(path, xml);
}
