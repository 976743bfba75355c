import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, test } from 'vitest';
import { createProgress } from '../../../tools/evaluate/progress.js';

function stream(isTTY: boolean) {
  const out = Object.assign(new PassThrough(), { isTTY, columns: 120 });
  let text = '';
  out.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { out, text: () => text };
}

describe('progress bar', () => {
  test('on a terminal it shows images done, the rate and the eta', () => {
    const terminal = stream(true);
    const progress = createProgress(8, terminal.out);
    progress.update(3);
    progress.update(8);
    progress.stop();
    assert.match(terminal.text(), /evaluating .* 8\/8 images \| [\d.]+ images\/s \| eta \S+/);
  });

  test('when the output is not a terminal it writes nothing at all', () => {
    const pipe = stream(false);
    const progress = createProgress(8, pipe.out);
    progress.update(3);
    progress.stop();
    assert.equal(pipe.text(), '');
  });
});
