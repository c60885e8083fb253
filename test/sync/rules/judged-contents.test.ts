// What the watcher knows Envoy did with each content of a file (src/sync/verdict/judged-contents.ts):
// learnt while nothing else Envoy reads changed, forgotten when it does.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { JudgedContents } from '../../../src/sync/verdict/judged-contents.js';

test('contents judged are known until another file changes; the last accepted one always', () => {
  const known = new JudgedContents((file) => (file === 'lds.yaml' ? 'g0' : undefined));
  assert.deepEqual([...known.of('lds.yaml')], [['g0', 'accepted']], 'the content recorded accepted');
  known.learn('lds.yaml', 'g1', 'accepted', 10);
  known.learn('lds.yaml', 'bad', 'refused', 20);
  assert.deepEqual([...known.of('lds.yaml')], [['g0', 'accepted'], ['g1', 'accepted'], ['bad', 'refused']]);
  known.changed(['lds.yaml'], 30);
  assert.equal(known.of('lds.yaml').size, 3, "a publish of the file itself: what Envoy did with its contents holds");
  known.changed(['cds.yaml'], 40);
  assert.deepEqual([...known.of('lds.yaml')], [['g0', 'accepted']], 'cds.yaml changed: forgotten');
  known.learn('lds.yaml', 'g2', 'accepted', 35);
  assert.equal(known.of('lds.yaml').has('g2'), false, 'published before cds.yaml changed: judged with the old cds.yaml, not learnt');
  known.learn('lds.yaml', 'g3', 'accepted', 45);
  assert.equal(known.of('lds.yaml').get('g3'), 'accepted', 'published after: learnt');
  for (let i = 0; i < 20; i++) known.learn('lds.yaml', `c${String(i)}`, 'accepted', 50 + i);
  assert.equal(known.of('lds.yaml').has('g3'), false, 'the oldest forgotten past 16');
  assert.equal(known.of('lds.yaml').get('c19'), 'accepted');
});
