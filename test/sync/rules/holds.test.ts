// What `watch` holds back (src/sync/verdict/holds.ts), as tables of steps: Envoy refused content →
// held; other content → released (and said, so the state file forgets the refusal); a hold from
// another Pod's Envoy (`copy` from the last-accepted store) ends once this Envoy accepts. Pure.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { Holds } from '../../../src/sync/verdict/holds.js';

type Step =
  | { do: 'hold'; sha: string; fromStore?: boolean }
  | { do: 'isHeld'; sha: string; expect: boolean }
  | { do: 'published'; sha: string }
  | { do: 'acceptedHere'; expect: boolean }
  | { do: 'has'; expect: boolean };

const cases: { name: string; steps: Step[]; released: number }[] = [
  {
    name: 'nothing held: every content passes',
    steps: [{ do: 'isHeld', sha: 'a', expect: false }, { do: 'has', expect: false }],
    released: 0,
  },
  {
    name: 'refused content stays held on every pass',
    steps: [{ do: 'hold', sha: 'bad' }, { do: 'isHeld', sha: 'bad', expect: true }, { do: 'isHeld', sha: 'bad', expect: true }, { do: 'has', expect: true }],
    released: 0,
  },
  {
    name: 'the ConfigMap changed (fixed or reverted): released once, then the old content may be tried again',
    steps: [
      { do: 'hold', sha: 'bad' },
      { do: 'isHeld', sha: 'fixed', expect: false },
      { do: 'has', expect: false },
      { do: 'isHeld', sha: 'bad', expect: false },
    ],
    released: 1,
  },
  {
    name: 'a publish of other content ends the hold without a release notice (the verdict on it decides)',
    steps: [{ do: 'hold', sha: 'bad' }, { do: 'published', sha: 'other' }, { do: 'has', expect: false }, { do: 'isHeld', sha: 'bad', expect: false }],
    released: 0,
  },
  {
    name: 'a publish of the held content itself keeps the hold',
    steps: [{ do: 'hold', sha: 'bad' }, { do: 'published', sha: 'bad' }, { do: 'isHeld', sha: 'bad', expect: true }],
    released: 0,
  },
  {
    name: "another Pod's refusal: held until this Envoy accepts what it runs, then judged here once",
    steps: [
      { do: 'hold', sha: 'bad', fromStore: true },
      { do: 'isHeld', sha: 'bad', expect: true },
      { do: 'acceptedHere', expect: true },
      { do: 'has', expect: false },
      { do: 'isHeld', sha: 'bad', expect: false },
      { do: 'acceptedHere', expect: false },
    ],
    released: 0,
  },
  {
    name: "this Envoy's own refusal is not ended by an acceptance of the rolled-back version",
    steps: [{ do: 'hold', sha: 'bad' }, { do: 'acceptedHere', expect: false }, { do: 'isHeld', sha: 'bad', expect: true }],
    released: 0,
  },
  {
    name: "this Envoy refuses it too after the retry: held as its own refusal from then on",
    steps: [
      { do: 'hold', sha: 'bad', fromStore: true },
      { do: 'acceptedHere', expect: true },
      { do: 'hold', sha: 'bad' },
      { do: 'acceptedHere', expect: false },
      { do: 'isHeld', sha: 'bad', expect: true },
    ],
    released: 0,
  },
];

for (const c of cases) {
  test(`holds: ${c.name}`, () => {
    const holds = new Holds();
    const released: string[] = [];
    holds.onRelease((name) => released.push(name));
    for (const [index, step] of c.steps.entries()) {
      const at = `step ${String(index + 1)} (${step.do})`;
      if (step.do === 'hold') holds.hold('lds.yaml', step.sha, step.fromStore);
      else if (step.do === 'isHeld') assert.equal(holds.isHeld('lds.yaml', step.sha), step.expect, at);
      else if (step.do === 'published') holds.published('lds.yaml', step.sha);
      else if (step.do === 'acceptedHere') assert.equal(holds.acceptedHere('lds.yaml'), step.expect, at);
      else assert.equal(holds.has('lds.yaml'), step.expect, at);
    }
    assert.deepEqual(released, Array.from({ length: c.released }, () => 'lds.yaml'));
  });
}

test('holds are per file', () => {
  const holds = new Holds();
  holds.hold('lds.yaml', 'bad');
  assert.equal(holds.isHeld('cds.yaml', 'bad'), false);
  assert.equal(holds.isHeld('lds.yaml', 'bad'), true);
});

test('another file accepted: holds this Envoy made end (tried again), holds from another Pod and the accepted file itself stay', () => {
  const holds = new Holds();
  const released: string[] = [];
  holds.onRelease((name) => released.push(name));
  holds.hold('lds.yaml', 'needs-cluster');
  holds.hold('rds.yaml', 'bad-route');
  holds.hold('cds.yaml', 'other-pod', true);
  assert.deepEqual(holds.otherAccepted('rds.yaml'), ['lds.yaml']);
  assert.deepEqual(released, ['lds.yaml']);
  assert.equal(holds.isHeld('lds.yaml', 'needs-cluster'), false);
  assert.equal(holds.isHeld('rds.yaml', 'bad-route'), true);
  assert.equal(holds.isHeld('cds.yaml', 'other-pod'), true);
  assert.deepEqual(holds.otherAccepted('lds.yaml'), ['rds.yaml']);
  assert.deepEqual(holds.otherAccepted('lds.yaml'), [], 'each hold is released once per acceptance');
});

test('a hold lasts while the rest of the ConfigMap stays as it was refused with: a changed, added or removed key releases it', () => {
  const refusedWith = new Map([['cert.pem', 'c'], ['key.pem', 'b'], ['sds.yaml', 's']]);
  const cases: [string, Map<string, string>, boolean][] = [
    ['unchanged (a resync)', new Map(refusedWith), true],
    ['the held file itself is the same, others too', new Map([['key.pem', 'b'], ['cert.pem', 'c'], ['sds.yaml', 's']]), true],
    ['cert.pem changed (the pair is new)', new Map([['cert.pem', 'b'], ['key.pem', 'b'], ['sds.yaml', 's']]), false],
    ['a key added (rds.yaml arrives)', new Map([...refusedWith, ['rds.yaml', 'r']]), false],
    ['a key removed', new Map([['key.pem', 'b'], ['sds.yaml', 's']]), false],
  ];
  for (const [name, configMap, held] of cases) {
    const holds = new Holds();
    const released: string[] = [];
    holds.onRelease((file) => released.push(file));
    holds.hold('key.pem', 'b', false, [], refusedWith);
    assert.equal(holds.isHeld('key.pem', 'b', configMap), held, name);
    assert.deepEqual(released, held ? [] : ['key.pem'], name);
  }
});

test('a hold read from the state file (ConfigMap unknown) takes the first pass it sees as the one it was refused with', () => {
  const holds = new Holds();
  holds.hold('lds.yaml', 'bad');
  const first = new Map([['lds.yaml', 'bad-source'], ['cds.yaml', 'c0']]);
  assert.equal(holds.isHeld('lds.yaml', 'bad', first), true);
  assert.equal(holds.isHeld('lds.yaml', 'bad', new Map(first)), true);
  assert.equal(holds.isHeld('lds.yaml', 'bad', new Map([['lds.yaml', 'bad-source'], ['cds.yaml', 'c1']])), false);
});

test("a change to Envoy's bootstrap (never reloaded) releases no hold", () => {
  const holds = new Holds();
  holds.bootstrap('envoy.yaml');
  holds.hold('lds.yaml', 'bad', false, [], new Map([['envoy.yaml', 'b0'], ['lds.yaml', 'l']]));
  assert.equal(holds.isHeld('lds.yaml', 'bad', new Map([['envoy.yaml', 'b1'], ['lds.yaml', 'l']])), true);
});

test('a refusal no other key can change (dependsOn: none): neither another key changing, nor a file it names arriving, nor another acceptance releases it; its own new content does', () => {
  const holds = new Holds();
  const released: string[] = [];
  holds.onRelease((file) => released.push(file));
  const refusedWith = new Map([['lds.yaml', 'bad'], ['cds.yaml', 'c1']]);
  holds.hold('lds.yaml', 'bad', false, ['rds.yaml'], refusedWith, []);
  assert.equal(holds.isHeld('lds.yaml', 'bad', new Map([['lds.yaml', 'bad'], ['cds.yaml', 'c2']])), true, 'cds.yaml changed');
  assert.equal(holds.isHeld('lds.yaml', 'bad', new Map([...refusedWith, ['rds.yaml', 'r']])), true, 'a key added');
  assert.deepEqual(holds.arrived(['rds.yaml']), [], 'a file it names arrived');
  assert.deepEqual(holds.otherAccepted('cds.yaml'), [], 'Envoy accepted cds.yaml');
  assert.deepEqual(released, []);
  assert.equal(holds.isHeld('lds.yaml', 'fixed', refusedWith), false, 'the fix');
  assert.deepEqual(released, ['lds.yaml']);
  // Held again for a refusal of unknown cause (dependsOn undefined): released by another acceptance as before.
  holds.hold('lds.yaml', 'no-reason', false, [], refusedWith);
  assert.deepEqual(holds.otherAccepted('cds.yaml'), ['lds.yaml']);
});

test('a refusal that depends on some keys (route to an unknown cluster: cds.yaml): only those release it', () => {
  const refusedWith = new Map([['lds.yaml', 'bad'], ['cds.yaml', 'c1'], ['script.lua', 's1'], ['envoy.yaml', 'b']]);
  const cases: [string, Map<string, string>, boolean][] = [
    ['script.lua changed', new Map([...refusedWith, ['script.lua', 's2']]), true],
    ['a key added', new Map([...refusedWith, ['extra.txt', 'x']]), true],
    ['cds.yaml changed', new Map([...refusedWith, ['cds.yaml', 'c2']]), false],
    ['cds.yaml removed', new Map([...refusedWith].filter(([key]) => key !== 'cds.yaml')), false],
  ];
  for (const [name, configMap, held] of cases) {
    const holds = new Holds();
    holds.hold('lds.yaml', 'bad', false, [], refusedWith, ['cds.yaml']);
    assert.equal(holds.isHeld('lds.yaml', 'bad', configMap), held, name);
  }
  const holds = new Holds();
  holds.hold('lds.yaml', 'bad', false, ['rds.yaml'], refusedWith, ['cds.yaml']);
  assert.deepEqual(holds.arrived(['rds.yaml']), [], 'rds.yaml is not what it depends on');
  assert.deepEqual(holds.otherAccepted('rds.yaml'), []);
  assert.deepEqual(holds.otherAccepted('cds.yaml'), ['lds.yaml']);
});
