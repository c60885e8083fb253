// Whether Envoy's refusal of a reader file is a refusal of a file it reads once (a Lua script, a
// direct_response body): src/sync/verdict/read-once-verdict.ts riderBlame. What Envoy reports in
// these cases is measured with the real Envoy in test/envoy/verdict-corpus.test.ts (case 18).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { luaChunkName, riderBlame, withResources } from '../../../src/sync/verdict/read-once-verdict.js';
import type { Rider } from '../../../src/sync/verdict/read-once-verdict.js';

const script: Rider = { file: 'script.lua', resources: ['listener_0'], content: Buffer.from('function envoy_on_request(request_handle)\n  x(\nend\n') };
const body: Rider = { file: 'body.txt', resources: ['listener_0'], content: Buffer.from('body-v0\n') };
const unnamed: Rider = { ...body, resources: undefined };
const alike: Rider = { file: 'alike.lua', resources: ['listener_0'], content: Buffer.from('function envoy_on_request(handle)\n  handle:logInfo("x")\nend\n') };
const twin: Rider = { file: 'twin.lua', resources: ['listener_0'], content: Buffer.from('function envoy_on_request(request_handle)\n  y(\nend\n') };
// Envoy 1.40's words (error_state.details of listener_0, as rejection-reason.ts reports them).
const luaError = 'listener listener_0: script load error: [string "function envoy_on_request(request_handle)..."]:3: \')\' expected near \'end\'';
const bindError = 'listener listener_1: cannot bind \'127.0.0.1:9901\': Address already in use';

test('riderBlame: a rider is refused only when what Envoy refused reads it', () => {
  const rows: [string, Rider, Rider[], Parameters<typeof riderBlame>[2], 'refused' | { unproven: RegExp } | RegExp][] = [
    ['no reason read', script, [], undefined, 'refused'],
    ['another listener refused', script, [], { reason: bindError, listeners: ['listener_1'] }, /^lds\.yaml, which Envoy refused for listener listener_1 \(Envoy says: listener listener_1: cannot bind.*\); nothing Envoy refused reads script\.lua: Envoy did not judge script\.lua$/],
    ['its listener refused, the only rider', script, [], { reason: luaError, listeners: ['listener_0'] }, 'refused'],
    ['its listener refused with another rider; the Lua chunk names the script', script, [body], { reason: luaError, listeners: ['listener_0'] }, 'refused'],
    ["its listener refused with another rider; Envoy's reason names the script, not the body", body, [script], { reason: luaError, listeners: ['listener_0'] }, /Envoy's reason names script\.lua, not body\.txt: Envoy did not judge body\.txt$/],
    ['its listener refused; the reason names the body by path', body, [script], { reason: 'listener listener_0: file /etc/envoy/xds/body.txt does not exist', listeners: ['listener_0'] }, 'refused'],
    ['its listener refused; the reason names another file whose name starts with the body\'s', body, [script], { reason: 'listener listener_0: file /etc/envoy/xds/body.txt.orig does not exist', listeners: ['listener_0'] }, { unproven: /^Envoy's reason names none of body\.txt, script\.lua/ }],
    ['its listener refused; the reason names no rider: both stay refused, unproven', body, [script], { reason: bindError.replace('listener_1', 'listener_0'), listeners: ['listener_0'] }, { unproven: /^Envoy's reason names none of body\.txt, script\.lua, read with lds\.yaml: any of them may be what it refused, so each stays refused$/ }],
    // Two scripts whose first lines start alike (fresh-user trial: 24 characters matched both).
    ['two scripts start alike; the chunk name is the other one\'s', alike, [script], { reason: luaError, listeners: ['listener_0'] }, /Envoy's reason names script\.lua, not alike\.lua: Envoy did not judge alike\.lua$/],
    ['two scripts start alike; the chunk name is this one\'s', script, [alike], { reason: luaError, listeners: ['listener_0'] }, 'refused'],
    ['two scripts with the same chunk name: neither is proven', script, [twin], { reason: luaError, listeners: ['listener_0'] }, { unproven: /^Envoy's reason fits each of script\.lua, twin\.lua alike .*: it does not prove which one Envoy refused, so each stays refused$/ }],
    ['the file never reached the LDS API (did not parse, proto validation)', script, [], { schema: 'sees' }, /^lds\.yaml, which Envoy refused before building any resource of it .*Envoy did not judge script\.lua$/],
    ['RDS, or no listener named: Envoy does not say which resource', script, [], { schema: 'if-constraint' }, 'refused'],
    ['a reason without a named listener (duplicate names)', script, [], { reason: 'duplicate listener listener_0 found' }, 'refused'],
    ['a reader resource without a name: any refused listener may read it', unnamed, [], { reason: bindError, listeners: ['listener_1'] }, 'refused'],
  ];
  for (const [name, rider, others, why, want] of rows) {
    const got = riderBlame(rider, others, why, 'lds.yaml');
    if (want === 'refused') assert.equal(got, 'refused', name);
    else if (want instanceof RegExp) assert.match(got !== 'refused' && 'notJudged' in got ? got.notJudged : JSON.stringify(got), want, name);
    else assert.match(got !== 'refused' && 'unproven' in got ? got.unproven : JSON.stringify(got), want.unproven, name);
  }
});

test('withResources: the names of the resources of the reader file that read the file, none when one has no name', () => {
  const reader = { file: 'lds.yaml', sha256: 'x' };
  assert.deepEqual(withResources(reader, [{ file: 'lds.yaml', resource: 'listener_0' }, { file: 'rds.yaml', resource: 'r' }]), { ...reader, resources: ['listener_0'] });
  assert.deepEqual(withResources(reader, [{ file: 'lds.yaml', resource: 'listener_0' }, { file: 'lds.yaml' }]), reader);
  assert.deepEqual(withResources(reader, []), reader);
});

test('luaChunkName: the name LuaJIT gives a script loaded from a string (lj_debug_shortname, LUA_IDSIZE 60), as Envoy\'s script load errors quote it', () => {
  const rows: [string, string, string][] = [
    ['the first line, then "..." (the script goes on)', 'function envoy_on_request(request_handle)\n  x(\nend\n', '[string "function envoy_on_request(request_handle)..."]'],
    ['a one-line script with no newline: whole, no "..."', 'return 1', '[string "return 1"]'],
    ['a first line of 48 bytes that is the whole script', 'x'.repeat(48), `[string "${'x'.repeat(48)}"]`],
    ['a first line longer than 48 bytes: 45 and "..."', `-- ${'y'.repeat(60)}\nreturn 1\n`, `[string "-- ${'y'.repeat(42)}..."]`],
    ['a line of exactly 48 bytes that goes on: 45 and "..."', `${'z'.repeat(48)}\nreturn 1`, `[string "${'z'.repeat(45)}..."]`],
    ['stops at a tab (a control character)', 'local a =\t1\n', '[string "local a =..."]'],
    ['stops at a carriage return', 'return 1\r\n', '[string "return 1..."]'],
    ['a script starting with a newline: nothing quoted', '\nfunction f() end\n', '[string "..."]'],
    ['leading spaces are kept', '  function f() end\n', '[string "  function f() end..."]'],
  ];
  for (const [name, script, want] of rows) assert.equal(luaChunkName(Buffer.from(script)), want, name);
});

// Fresh-user trial on Envoy 1.40 (test/envoy/first-start-refusals.test.ts): a listener refused for an
// address it could not bind was built first (Envoy binds after it builds the filter chains: a bad
// script on a taken port is refused for the script), so its riders are not the cause; and at a first
// start that refused another listener of the file, the listener Envoy runs judged its script.
test('riderBlame: a listener refused for its address; the listeners Envoy runs from a first version refused elsewhere', () => {
  const own = { reason: "listener listener_0: cannot bind '127.0.0.1:9901': Address already in use", listeners: ['listener_0'], details: { listener_0: "cannot bind '127.0.0.1:9901': Address already in use" } };
  const other = { reason: bindError, listeners: ['listener_1'], details: { listener_1: "cannot bind '127.0.0.1:9901': Address already in use" } };
  const rows: [string, Rider, Rider[], Parameters<typeof riderBlame>[2], readonly string[] | undefined, RegExp | 'refused'][] = [
    ['its listener could not bind: not the cause, whatever rides with it', script, [body], own, undefined, /^lds\.yaml, which Envoy refused for listener listener_0 \(Envoy says: listener listener_0: cannot bind .*\): Envoy built it with script\.lua, then could not bind its address, which script\.lua does not cause; fix the address in lds\.yaml: Envoy did not judge script\.lua$/],
    ['its listener could not bind, a first version: still not the cause', body, [script], own, [], /then could not bind its address, which body\.txt does not cause/],
    ['its listener refused for the script, another for its address', script, [], { reason: `${luaError}; ${bindError}`, listeners: ['listener_0', 'listener_1'], details: { listener_0: luaError.slice('listener listener_0: '.length), listener_1: other.details.listener_1 } }, undefined, 'refused'],
    ['another listener refused, a first version, Envoy runs the reading listener from it: accepted', script, [], other, ['listener_0'], /^accepted: Envoy runs listener listener_0 of lds\.yaml, which reads script\.lua, from this version of lds\.yaml; it refused only listener listener_1 \(Envoy says: .*cannot bind/],
    ['another listener refused, a first version, Envoy does not run the reading listener: not judged', script, [], other, [], /nothing Envoy refused reads script\.lua: Envoy did not judge script\.lua$/],
    ['another listener refused, an edit rolled back (no running list): not judged', script, [], other, undefined, /nothing Envoy refused reads script\.lua/],
  ];
  for (const [name, rider, others, why, running, want] of rows) {
    const got = riderBlame(rider, others, why, 'lds.yaml', running);
    if (want === 'refused') assert.equal(got, 'refused', name);
    else assert.match(got === 'refused' ? 'refused' : 'acceptedWith' in got ? `accepted: ${got.acceptedWith}` : 'notJudged' in got ? got.notJudged : JSON.stringify(got), want, name);
  }
});
