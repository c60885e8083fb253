// The floor bench:inject compares `inject -f` with: the same stream read in chunks (cut at line ends), parsed with the
// `yaml` library (its streaming Parser and Composer), each document edited with the yaml library's
// own setIn/deleteIn by the same JSON Patch the injection makes (computed once, by the bench), and
// printed back. No injection rules, no checks: the least any comment-keeping YAML editor must do.
//
// Usage: node floor.js MANIFEST PATCH.json   (prints the edited stream on stdout)
import { createReadStream, readFileSync } from 'node:fs';
import { Composer, Parser } from 'yaml';
import type { Document } from 'yaml';

interface Op {
  op: string;
  path: (string | number)[];
  value?: unknown;
}

const [file, patchFile] = process.argv.slice(2);
if (file === undefined || patchFile === undefined) throw new Error('usage: floor.js MANIFEST PATCH.json');
const input: string = file;
const ops = JSON.parse(readFileSync(patchFile, 'utf8')) as Op[];

function edit(doc: Document): string {
  for (const { op, path, value } of ops) {
    if (op === 'remove') doc.deleteIn(path);
    else doc.setIn(path, doc.createNode(value));
  }
  return doc.toString({ lineWidth: 0 });
}

async function main(): Promise<void> {
  const parser = new Parser();
  const composer = new Composer({ version: '1.1' });
  const out: string[] = [];
  const flush = async (): Promise<void> => {
    if (process.stdout.write(out.join(''))) {
      out.length = 0;
      return;
    }
    out.length = 0;
    await new Promise((resolve) => process.stdout.once('drain', resolve));
  };
  // Whole lines only: the yaml Parser misreads a plain scalar cut in two by a chunk boundary.
  let rest = '';
  for await (const chunk of createReadStream(input, { encoding: 'utf8', highWaterMark: 64 * 1024 })) {
    const text = rest + (chunk as string);
    const cut = text.lastIndexOf('\n') + 1;
    rest = text.slice(cut);
    for (const token of parser.parse(text.slice(0, cut), true)) for (const doc of composer.next(token)) out.push(edit(doc));
    await flush();
  }
  for (const token of parser.parse(rest, false)) for (const doc of composer.next(token)) out.push(edit(doc));
  for (const doc of composer.end()) out.push(edit(doc));
  await flush();
}

await main();
