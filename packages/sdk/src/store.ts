/**
 * Where the offline cache lives: signed validation answers, license files and the last JWKS. Values are
 * the signed documents themselves, checked again on every read, so a store needs no integrity of its own.
 */
export interface LicenseStore {
  get(name: string): Promise<string | undefined>;
  set(name: string, value: string): Promise<void>;
  delete(name: string): Promise<void>;
}

/** For browsers and tests: gone when the page (or program) ends. */
export class MemoryStore implements LicenseStore {
  private readonly entries = new Map<string, string>();

  get(name: string): Promise<string | undefined> {
    return Promise.resolve(this.entries.get(name));
  }

  set(name: string, value: string): Promise<void> {
    this.entries.set(name, value);
    return Promise.resolve();
  }

  delete(name: string): Promise<void> {
    this.entries.delete(name);
    return Promise.resolve();
  }
}
