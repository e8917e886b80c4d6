import * as fs from 'node:fs';
import * as path from 'node:path';
import { CertWorkDir, MAX_WORK_FILE_BYTES, WorkDirError } from '../src';
import { tempDir } from './pebble';

describe('CertWorkDir', () => {
  let dir: string;
  let work: CertWorkDir;
  beforeEach(async () => {
    dir = tempDir();
    work = new CertWorkDir(path.join(dir, 'a', 'b'));
    await work.ensure();
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('write replaces a file whole, 0600, through a temporary name that does not stay', async () => {
    await work.write('state.json', 'one');
    await work.write('state.json', 'two');
    expect(await work.read('state.json')).toBe('two');
    expect(fs.readdirSync(work.dir)).toEqual(['state.json']);
    expect(fs.statSync(work.path('state.json')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(work.dir).mode & 0o777).toBe(0o700);
  });

  test('a missing file reads as undefined', async () => {
    expect(await work.read('nothing.pem')).toBeUndefined();
  });

  test('a file larger than ours is refused, not read whole', async () => {
    fs.writeFileSync(work.path('certificate.pem'), Buffer.alloc(MAX_WORK_FILE_BYTES + 1));
    await expect(work.read('certificate.pem')).rejects.toThrow(/has 1048577 bytes, more than 1048576: not ours/);
  });

  test('a symbolic link planted in place of a file is not followed', async () => {
    fs.writeFileSync(path.join(dir, 'elsewhere'), 'secret');
    fs.symlinkSync(path.join(dir, 'elsewhere'), work.path('account-key.pem'));
    await expect(work.read('account-key.pem')).rejects.toThrow(WorkDirError);
  });

  test('a write that cannot happen says which file, and leaves no temporary file', async () => {
    fs.mkdirSync(work.path('state.json')); // a directory where the file should go: rename fails
    await expect(work.write('state.json', 'x')).rejects.toThrow(/workDir file .*state.json: cannot write/);
    expect(fs.readdirSync(work.dir)).toEqual(['state.json']);
  });

  test('a work directory that is a file is refused', async () => {
    fs.writeFileSync(path.join(dir, 'file'), '');
    await expect(new CertWorkDir(path.join(dir, 'file')).ensure()).rejects.toThrow(/workDir .*file/);
  });
});
