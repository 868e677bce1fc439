// Unpacks tests/fixtures/tiny-sd.tar.xz next to itself. The fixtures are stored compressed so the
// repository stays small enough to travel to the GPU machine; npm install and npm test call this.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fromRoot } from '../runtime/paths.js';

const archive = fromRoot('tests', 'fixtures', 'tiny-sd.tar.xz');
const target = fromRoot('tests', 'fixtures', 'tiny-sd');
const stamp = fromRoot('tests', 'fixtures', 'tiny-sd', '.unpacked-from');

if (process.argv.includes('--help')) {
  console.log('usage: node scripts/unpack-fixtures.js\nUnpacks the tiny SD test model and golden outputs into tests/fixtures/tiny-sd/ (skipped when up to date).');
  process.exit(0);
}

const digest = createHash('sha256').update(readFileSync(archive)).digest('hex');
if (existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === digest) process.exit(0);
try {
  execFileSync('tar', ['-xJf', archive, '-C', fromRoot('tests', 'fixtures')], { stdio: 'inherit' });
} catch {
  console.error(`could not unpack ${archive}: needs tar with xz support (Debian: apt-get install xz-utils)`);
  process.exit(1);
}
writeFileSync(stamp, `${digest}\n`);
console.log(`unpacked test fixtures into ${target}`);
