import * as graphene from 'graphene-pk11';
import { CKF_OS_LOCKING_OK } from 'pkcs11js';

/** One loaded PKCS#11 library per process: C_Initialize may run once, and C_Finalize ends it for everyone. */
const loaded = new Map<string, { module: graphene.Module; users: number }>();

export function loadModule(path: string): graphene.Module {
  const entry = loaded.get(path);
  if (entry !== undefined) {
    entry.users++;
    return entry.module;
  }
  const module = graphene.Module.load(path, 'tessera');
  try {
    // Sessions are used from libuv's worker threads (asynchronous C_Sign): the library must lock.
    module.initialize({ flags: CKF_OS_LOCKING_OK });
  } catch (error) {
    // Another library in this process (or a test) initialised the module first; its state is shared.
    if (!String(error).includes('CKR_CRYPTOKI_ALREADY_INITIALIZED')) {
      throw error;
    }
  }
  loaded.set(path, { module, users: 1 });
  return module;
}

export function releaseModule(path: string): void {
  const entry = loaded.get(path);
  if (entry === undefined) {
    return;
  }
  entry.users--;
  if (entry.users === 0) {
    loaded.delete(path);
    try {
      entry.module.finalize();
    } catch {
      // Already finalized (the module was reset under us); nothing left to release.
    }
  }
}

/** The slot whose token carries `tokenLabel` (slot ids are not stable: SoftHSM picks them at random). */
export function findSlot(
  module: graphene.Module,
  tokenLabel: string,
  modulePath: string,
): graphene.Slot {
  const slots = module.getSlots(true);
  for (let i = 0; i < slots.length; i++) {
    const slot = slots.items(i);
    // Token labels are blank-padded to 32 bytes.
    if (slot.getToken().label.replace(/[\s\0]+$/, '') === tokenLabel) {
      return slot;
    }
  }
  throw new Error(`no PKCS#11 token labelled "${tokenLabel}" in ${modulePath}`);
}

/** Median round trip of a trivial call (C_GenerateRandom) to the token, in microseconds. */
export function probeLatency(session: graphene.Session): { medianMicros: number } {
  const samples: number[] = [];
  for (let i = 0; i < 15; i++) {
    const start = process.hrtime.bigint();
    session.generateRandom(16);
    samples.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  samples.sort((a, b) => a - b);
  return { medianMicros: samples[Math.floor(samples.length / 2)] };
}
