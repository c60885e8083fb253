// The rule that tells a failure after a list into "watch again from the last resourceVersion" or
// "list again" (src/sync/kube/watch-retry.ts, client-go's reflector), table-tested.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { afterWatchEnd, brokenWatchResumes, connectionRefused, watchResumes, type WatchEnd } from '../../../src/sync/kube/watch-retry.js';

const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' });
// As node:http2 reports it: the pending stream cancelled, the session's error its cause.
const cancelled = Object.assign(new Error('The pending stream has been canceled (caused by: connect ECONNREFUSED)'), { code: 'ERR_HTTP2_STREAM_CANCEL' });
cancelled.cause = refused;
const wrapped = new Error('https://10.96.0.1:443: The pending stream has been canceled', { cause: cancelled });
const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
const unreachableHost = Object.assign(new Error('connect EHOSTUNREACH'), { code: 'EHOSTUNREACH' });

test('watchResumes: client-go\'s isWatchErrorRetriable (connection refused, 429); everything else lists', () => {
  const rows: [string, number, unknown, boolean][] = [
    ['connection refused', 0, refused, true],
    ['connection refused, as the cause of a cancelled HTTP/2 stream, wrapped', 0, wrapped, true],
    ['429 Too Many Requests', 429, undefined, true],
    ['connection reset', 0, reset, false],
    ['host unreachable', 0, unreachableHost, false],
    ['no answer (a timeout)', 0, new Error('no answer within 10s'), false],
    ['410 Gone', 410, undefined, false],
    ['403 Forbidden', 403, undefined, false],
    ['401 Unauthorized', 401, undefined, false],
    ['500 Internal Server Error', 500, undefined, false],
    ['503 Service Unavailable', 503, undefined, false],
  ];
  for (const [what, status, err, resumes] of rows) assert.equal(watchResumes(status, err), resumes, what);
});

test('connectionRefused: follows the cause chain, and stops on a cycle', () => {
  assert.equal(connectionRefused(wrapped), true);
  assert.equal(connectionRefused(undefined), false);
  assert.equal(connectionRefused('ECONNREFUSED'), false);
  const loop: Error & { cause?: unknown } = new Error('loop');
  loop.cause = loop;
  assert.equal(connectionRefused(loop), false);
});

test('brokenWatchResumes: an answered watch ended by the transport resumes, unless it was very short (client-go\'s VeryShortWatchError) or went silent', () => {
  const rows: [string, number, number, boolean, boolean][] = [
    ['open 5 min, no event', 300_000, 0, false, true],
    ['open 0.2 s, one event', 200, 1, false, true],
    ['open 0.2 s, no event', 200, 0, false, false],
    ['open exactly 1 s, no event', 1_000, 0, false, true],
    ['open 5 min, then its PING unanswered', 300_000, 3, true, false],
  ];
  for (const [what, lastedMs, events, silent, resumes] of rows) assert.equal(brokenWatchResumes(lastedMs, events, silent), resumes, what);
});

test('afterWatchEnd: a clean end watches again at once; a 410 lists after the backoff (client-go: ListAndWatch returns, RunWithContext\'s delayHandler waits); a watch found behind lists at once', () => {
  const rows: [WatchEnd, { list: boolean; backoff: boolean }][] = [
    ['closed', { list: false, backoff: false }],
    ['gone', { list: true, backoff: true }],
    ['relist', { list: true, backoff: false }],
  ];
  for (const [end, expected] of rows) assert.deepEqual(afterWatchEnd(end), expected, end);
});
