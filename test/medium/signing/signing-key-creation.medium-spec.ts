import { Test } from '@nestjs/testing';
import type { TestingModule } from '@nestjs/testing';
import { Client } from 'pg';
import { DataSource } from 'typeorm';

import { ConfigModule } from 'src/config/config.module';
import { AuditModule } from 'src/modules/audit/audit.module';
import { AuditLinker } from 'src/modules/audit/audit-linker';
import { SIGNER } from 'src/modules/signing/signer';
import type { Signer } from 'src/modules/signing/signer';
import { SigningKeyOrphanService } from 'src/modules/signing/signing-key-orphans.service';
import { SigningModule } from 'src/modules/signing/signing.module';
import { SigningService } from 'src/modules/signing/signing.service';
import { systemActor } from 'src/platform/auth/actor';
import { DatabaseModule } from 'src/platform/database/database.module';
import { OutboxModule } from 'src/platform/outbox/outbox.module';
import { PlatformModule } from 'src/platform/platform.module';
import { createSoftHsmToken, describeHsm, hsmObjects } from 'test/support/softhsm';
import type { SoftHsmToken } from 'test/support/softhsm';
import { testConfig } from 'test/support/test-config';
import { asRole, createTestDatabase, sessionsWaitingForLocks } from 'test/support/test-database';

interface TokenObject {
  label: string;
  id: string;
  class: 'private' | 'public';
}

/** The signing module (with audit) on a database of its own, as one Tessera instance. */
interface SigningInstance {
  readonly module: TestingModule;
  readonly url: string;
  readonly signing: SigningService;
  readonly orphans: SigningKeyOrphanService;
  readonly signer: Signer;
  query<T = unknown>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Links committed audit events into the chain, as readers of the log do: before reading it by SQL. */
  linkAudit(): Promise<void>;
}

// The scheduled checkpoint would add audit rows the tests do not expect.
const ENV = { AUDIT_CHECKPOINT_INTERVAL_MINUTES: '0' };

function pkcs11Env(token: SoftHsmToken): Record<string, string> {
  return {
    SIGNING_BACKEND: 'pkcs11',
    PKCS11_MODULE: token.modulePath,
    PKCS11_TOKEN_LABEL: token.label,
    PKCS11_PIN: token.pin,
  };
}

async function sql<T = unknown>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Boots the module; `beforeBoot` runs on the fresh database first (to break it for the boot itself). */
async function bootSigning(
  env: Record<string, string>,
  beforeBoot?: (url: string) => Promise<void>,
): Promise<SigningInstance> {
  const config = testConfig({ ...ENV, ...env });
  const url = await createTestDatabase();
  await beforeBoot?.(url);
  const module = await Test.createTestingModule({
    imports: [
      ConfigModule.forRoot(config),
      DatabaseModule.forRoot(config, url),
      OutboxModule,
      PlatformModule,
      AuditModule,
      SigningModule,
    ],
  }).compile();
  try {
    await module.init();
  } catch (error) {
    await module.close();
    throw error;
  }
  return {
    module,
    url,
    signing: module.get(SigningService),
    orphans: module.get(SigningKeyOrphanService),
    signer: module.get<Signer>(SIGNER),
    query: (text, params) => module.get(DataSource).query(text, params),
    linkAudit: () => module.get(AuditLinker).linkWaiting(),
  };
}

/**
 * Makes inserts into `table` fail from now on (when `condition` holds for the new row): a real failure
 * raised by PostgreSQL inside the transaction, as a full disk or a constraint would.
 */
async function failInserts(
  url: string,
  table: string,
  condition = 'true',
): Promise<() => Promise<void>> {
  const name = `test_refuse_${table}`;
  // Triggers are the owner's to create (the server's role may not), as a migration would.
  const owner = asRole(url, 'owner');
  await sql(
    owner,
    `CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
       IF ${condition} THEN RAISE EXCEPTION 'injected failure: insert into ${table}'; END IF;
       RETURN NEW;
     END $$;
     CREATE TRIGGER ${name} BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION ${name}()`,
  );
  return async () => {
    await sql(owner, `DROP TRIGGER ${name} ON ${table}; DROP FUNCTION ${name}()`);
  };
}

describeHsm('signing key creation against SoftHSM2: no key without a row', () => {
  let token: SoftHsmToken;
  let fresh: SoftHsmToken;
  let instance: SigningInstance;

  /** Every key object in the token, seen from another process. */
  const tokenObjects = (of: SoftHsmToken = token): TokenObject[] =>
    JSON.parse(hsmObjects(of, 'list')) as TokenObject[];
  const ringLabels = async (of: SigningInstance = instance) =>
    (
      await of.query<{ hsm_label: string }>(`SELECT hsm_label FROM signing_keys ORDER BY hsm_label`)
    ).map((row) => row.hsm_label);
  const labelsIn = (objects: TokenObject[]) => [...new Set(objects.map((o) => o.label))].sort();

  beforeAll(async () => {
    // Both before the first boot: a loaded PKCS#11 module sees the tokens that existed when it started.
    token = createSoftHsmToken();
    fresh = createSoftHsmToken();
    instance = await bootSigning(pkcs11Env(token));
  });
  afterAll(async () => {
    await instance?.module.close();
  });

  it('boots with a token holding exactly the key pairs of the ring', async () => {
    const labels = await ringLabels();
    expect(labels).toHaveLength(3);
    expect(labelsIn(tokenObjects())).toEqual(labels);
    expect(tokenObjects()).toHaveLength(6);
  });

  it('destroys the HSM key pair when the insert of its row fails', async () => {
    const before = tokenObjects();
    const restore = await failInserts(instance.url, 'signing_keys');
    try {
      await expect(instance.signing.generate(systemActor(), 'license')).rejects.toThrow(
        'injected failure: insert into signing_keys',
      );
    } finally {
      await restore();
    }
    expect(tokenObjects()).toEqual(before);
    expect(await ringLabels()).toEqual(labelsIn(before));
  });

  it('destroys the HSM key pair when the transaction fails after its row was inserted', async () => {
    const before = tokenObjects();
    // The audit row is written after the key's row, in the same transaction.
    const restore = await failInserts(
      instance.url,
      'audit_pending',
      `NEW.action = 'signing-key.created'`,
    );
    try {
      await expect(instance.signing.generate(systemActor(), 'audit', 'ES256')).rejects.toThrow(
        'injected failure: insert into audit_pending',
      );
    } finally {
      await restore();
    }
    expect(tokenObjects()).toEqual(before);
    expect(await ringLabels()).toEqual(labelsIn(before));
  });

  it('destroys every key a failed first boot generated', async () => {
    let restore: (() => Promise<void>) | undefined;
    let url = '';
    // License and webhook keys are generated and inserted; the audit key's insert fails the transaction.
    await expect(
      bootSigning(pkcs11Env(fresh), async (database) => {
        url = database;
        restore = await failInserts(database, 'signing_keys', `NEW.purpose = 'audit'`);
      }),
    ).rejects.toThrow('injected failure: insert into signing_keys');
    expect(tokenObjects(fresh)).toEqual([]);
    expect(await sql(url, `SELECT kid FROM signing_keys`)).toEqual([]);
    await restore!();
  });

  it('lists a key a crashed process left in the token, deletes it only when told, and never a key of the ring', async () => {
    const ring = await ringLabels();
    // What a process that died between generating a key and committing its row leaves behind, and a key
    // of another application in the same token.
    hsmObjects(token, 'generate', 'tessera-license-20260101-0rphan01', 'license-20260101-0rphan01');
    hsmObjects(token, 'generate', 'other-app-key', 'other-app-key');
    await instance.linkAudit();
    const auditsBefore = await instance.query(`SELECT id FROM audit_events`);

    const listed = await instance.orphans.sweep(systemActor(), { delete: false });
    expect(listed).toEqual([
      {
        label: 'tessera-license-20260101-0rphan01',
        kid: 'license-20260101-0rphan01',
        objects: ['private', 'public'],
        deleted: false,
      },
    ]);
    expect(labelsIn(tokenObjects())).toEqual(
      [...ring, 'other-app-key', 'tessera-license-20260101-0rphan01'].sort(),
    );
    await instance.linkAudit();
    expect(await instance.query(`SELECT id FROM audit_events`)).toEqual(auditsBefore);

    const deleted = await instance.orphans.sweep(systemActor(), { delete: true });
    expect(deleted).toEqual([{ ...listed[0], deleted: true }]);
    expect(labelsIn(tokenObjects())).toEqual([...ring, 'other-app-key'].sort());
    await instance.linkAudit();
    const audit = await instance.query<{ action: string; actor_type: string; metadata: unknown }>(
      `SELECT action, actor_type, metadata FROM audit_events ORDER BY sequence DESC LIMIT 1`,
    );
    expect(audit).toEqual([
      {
        action: 'signing-key.orphans-deleted',
        actor_type: 'system',
        metadata: { labels: ['tessera-license-20260101-0rphan01'], backend: 'pkcs11' },
      },
    ]);
    // Every key of the ring still signs, retired and revoked ones included (they still verify).
    await expect(instance.orphans.sweep(systemActor(), { delete: true })).resolves.toEqual([]);
    for (const purpose of ['license', 'webhook', 'audit'] as const) {
      await expect(
        instance.signing.sign(purpose, Buffer.from('still here')),
      ).resolves.toMatchObject({
        signature: expect.any(Buffer),
      });
    }
  });

  it('keeps retired and revoked keys: their rows still name them', async () => {
    const rotated = await instance.signing.rotate(systemActor(), 'webhook');
    const old = (await instance.signing.list()).filter(
      (k) => k.purpose === 'webhook' && k.kid !== rotated.kid,
    );
    expect(old.length).toBeGreaterThan(0);
    await instance.signing.revoke(systemActor(), old[0].kid);
    const before = tokenObjects();
    await expect(instance.orphans.sweep(systemActor(), { delete: true })).resolves.toEqual([]);
    expect(tokenObjects()).toEqual(before);
    expect(labelsIn(before)).toContain(`tessera-${old[0].kid}`);
  });

  it('waits for a key creation in flight instead of taking its key for an orphan', async () => {
    // Holding off audit inserts stops the creation after the HSM generated the key and its row was
    // inserted, before it commits. Linking first leaves no link pass to wait on the gate as well.
    await instance.linkAudit();
    const gate = new Client({ connectionString: instance.url });
    await gate.connect();
    try {
      await gate.query(`BEGIN`);
      await gate.query(`LOCK TABLE audit_pending IN SHARE MODE`);
      const creation = instance.signing.generate(systemActor(), 'license');
      await sessionsWaitingForLocks(instance.query, 1);
      const sweep = instance.orphans.sweep(systemActor(), { delete: true });
      await sessionsWaitingForLocks(instance.query, 2);
      await gate.query(`COMMIT`);
      const created = await creation;
      await expect(sweep).resolves.toEqual([]);
      expect(labelsIn(tokenObjects())).toContain(`tessera-${created.kid}`);
      const activated = await instance.signing.activate(systemActor(), created.kid);
      expect(activated.state).toBe('ACTIVE');
      await expect(instance.signing.sign('license', Buffer.from('new key'))).resolves.toMatchObject(
        {
          kid: created.kid,
        },
      );
    } finally {
      await gate.end();
    }
  });
});

describe('signing key creation with the software signer: nothing kept for a key without a row', () => {
  let instance: SigningInstance;

  beforeAll(async () => {
    instance = await bootSigning({ SIGNING_BACKEND: 'software' });
  });
  afterAll(async () => {
    await instance?.module.close();
  });

  it('forgets the private key it generated when the row is not inserted', async () => {
    const generate = jest.spyOn(instance.signer, 'generate');
    const restore = await failInserts(instance.url, 'signing_keys');
    try {
      await expect(instance.signing.generate(systemActor(), 'license', 'ES256')).rejects.toThrow(
        'injected failure',
      );
    } finally {
      await restore();
    }
    const kid = generate.mock.calls[0][0];
    generate.mockRestore();
    const handle = { kid, algorithm: 'ES256' as const, hsmLabel: null, privateKeySealed: null };
    // Held in memory, it would still sign for a kid no row, JWKS or verifier knows.
    await expect(
      Promise.resolve().then(() => instance.signer.sign(handle, Buffer.from('x'))),
    ).rejects.toThrow(`signing key ${kid} has no software key material`);
    await expect(instance.signer.storedKeys()).resolves.toEqual([]);
    await expect(instance.orphans.sweep(systemActor(), { delete: true })).resolves.toEqual([]);
  });
});
