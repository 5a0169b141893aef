// A lesson named `00a-slug.md` sorts between 00 and 01, takes its id from the
// slug, and is found by `lesson 00a` (issue 14: the DMA API rules lesson).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { slugOf } from '../../src/notebook/library.ts';

test('slugOf strips a number with one letter after it', () => {
  assert.is(slugOf('lessons/00a-dma-api-rules.md'), 'dma-api-rules');
  assert.is(slugOf('lessons/01-seed.md'), 'seed');
  assert.is(slugOf('lessons/00ab-x.md'), '00ab-x');
});

test.run();
