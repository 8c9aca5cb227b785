import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { version } from '../src/index';

it('exports the package.json version', () => {
  expect(version).toBe(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version);
});
