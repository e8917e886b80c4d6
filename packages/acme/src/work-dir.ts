import { randomBytes } from 'node:crypto';
import { promises as fs, constants } from 'node:fs';
import { join } from 'node:path';
import { ICS_ERR, type IcsErrorCode } from '@ics-ts/wsocket';

/**
 * The work directory of one host's certificate (ICS CertDirWork). It holds private keys, so the
 * directory is 0700 and every file 0600, and every file is replaced atomically: written to a
 * temporary name in the same directory, flushed to disk, renamed over the old one, and the directory
 * flushed, so that a crash or a full disk leaves the old file or the new one, never half of one.
 */
export const WORK_FILES = {
  /** The ACME account key (ECDSA P-256, PKCS#8 PEM). */
  accountKey: 'account-key.pem',
  /** The account URL and the directory it belongs to (JSON). */
  account: 'account.json',
  /** The certificate key, the certificate and its chain in one PEM bundle: what a TSslContext loads as sslCert. */
  bundle: 'certificate.pem',
  /** The order state: names, last order, failures, last error (JSON). */
  state: 'state.json',
} as const;

/** No file of ours is larger: a bigger one is not ours, and is not read whole. */
export const MAX_WORK_FILE_BYTES = 1 << 20;

export class WorkDirError extends Error {
  override readonly name = 'WorkDirError';
  readonly code: IcsErrorCode = ICS_ERR.ACME_WORK_DIR;
}

export class CertWorkDir {
  constructor(readonly dir: string) {}

  path(name: string): string {
    return join(this.dir, name);
  }

  /** Creates the directory (0700), or narrows an existing one to 0700. */
  async ensure(): Promise<void> {
    try {
      await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
      const stat = await fs.stat(this.dir);
      if (!stat.isDirectory()) throw new WorkDirError(`workDir ${this.dir} is not a directory`);
      if ((stat.mode & 0o077) !== 0) await fs.chmod(this.dir, 0o700);
    } catch (err) {
      if (err instanceof WorkDirError) throw err;
      throw new WorkDirError(`workDir ${this.dir}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** The file's text, or undefined when it does not exist; larger than MAX_WORK_FILE_BYTES is an error. */
  async read(name: string): Promise<string | undefined> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(this.path(name), constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new WorkDirError(`workDir file ${this.path(name)}: ${(err as Error).message}`, { cause: err });
    }
    try {
      const { size } = await handle.stat();
      if (size > MAX_WORK_FILE_BYTES) {
        throw new WorkDirError(`workDir file ${this.path(name)} has ${size} bytes, more than ${MAX_WORK_FILE_BYTES}: not ours`);
      }
      return await handle.readFile('latin1');
    } finally {
      await handle.close();
    }
  }

  /** Replaces the file atomically (temp + fsync + rename + directory fsync), mode 0600. */
  async write(name: string, data: string): Promise<void> {
    const target = this.path(name);
    const temp = this.path(`.${name}.${randomBytes(6).toString('hex')}.tmp`);
    let handle: fs.FileHandle | undefined;
    try {
      handle = await fs.open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      await handle.writeFile(data, 'latin1');
      await handle.sync();
      await handle.close();
      handle = undefined;
      await fs.rename(temp, target);
      await this.syncDir();
    } catch (err) {
      if (handle) await handle.close().catch(() => undefined);
      await fs.rm(temp, { force: true }).catch(() => undefined);
      throw new WorkDirError(`workDir file ${target}: cannot write (${(err as Error).message})`, { cause: err });
    }
  }

  /** The rename is durable only once the directory entry is on disk. */
  private async syncDir(): Promise<void> {
    const dir = await fs.open(this.dir, constants.O_RDONLY);
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}
