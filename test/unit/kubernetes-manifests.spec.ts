import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix } from 'node:path';

import { parseAllDocuments } from 'yaml';

import { loadConfig } from 'src/config/app-config';
import { opensslCertificate } from 'test/support/tls';

/**
 * There is no kubectl, kustomize or cluster here: this test is the validation of deploy/kubernetes. It
 * parses every manifest as Kubernetes does (YAML 1.1), renders the overlay's patch, and checks what a
 * review would: the pods run as the image's user on a read-only root, take secrets only as files, probe
 * the health routes the app really serves, migrate before serving, and boot with exactly the environment
 * the manifests give them.
 */
const ROOT = join(__dirname, '..', '..');
const DEPLOY = join(ROOT, 'deploy', 'kubernetes');

type Manifest = Record<string, any>;

function parseFile(file: string): Manifest[] {
  const documents = parseAllDocuments(readFileSync(file, 'utf8'), { version: '1.1' });
  const list = Array.isArray(documents) ? documents : [documents];
  for (const document of list) {
    expect({ file, errors: document.errors.map((e) => e.message) }).toEqual({ file, errors: [] });
  }
  return list.map((document) => document.toJS() as Manifest).filter((m) => m !== null);
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? yamlFiles(join(dir, entry.name))
      : /\.ya?ml$/.test(entry.name)
        ? [join(dir, entry.name)]
        : [],
  );
}

interface Rendered {
  readonly resources: Manifest[];
  readonly config: Record<string, string>;
}

/** What `kustomize build` would produce, for the features these kustomizations use. */
function render(dir: string): Rendered {
  const [kustomization] = parseFile(join(dir, 'kustomization.yaml'));
  let resources: Manifest[] = [];
  let config: Record<string, string> = {};
  for (const entry of kustomization.resources as string[]) {
    const path = join(dir, entry);
    if (existsSync(join(path, 'kustomization.yaml'))) {
      const base = render(path);
      resources.push(...base.resources);
      config = { ...config, ...base.config };
    } else {
      resources.push(...parseFile(path));
    }
  }
  for (const generator of kustomization.configMapGenerator ?? []) {
    expect(generator.name).toBe('tessera-config');
    for (const literal of generator.literals as string[]) {
      const at = literal.indexOf('=');
      config[literal.slice(0, at)] = literal.slice(at + 1);
    }
  }
  for (const patch of kustomization.patches ?? []) {
    const [change] = parseFile(join(dir, patch.path));
    const index = resources.findIndex(
      (r) => r.kind === change.kind && r.metadata.name === change.metadata.name,
    );
    expect(index).toBeGreaterThanOrEqual(0);
    resources = resources.map((r, i) => (i === index ? merge(r, change) : r));
  }
  return { resources, config };
}

/** Strategic merge as Kubernetes does it for these fields: lists of named things merge by name. */
function merge(base: any, patch: any): any {
  if (Array.isArray(base) && Array.isArray(patch)) {
    const named = [...base, ...patch].every((item) => typeof item?.name === 'string');
    if (!named) {
      return patch;
    }
    const out = base.map((item) => {
      const change = patch.find((p) => p.name === item.name);
      return change === undefined ? item : merge(item, change);
    });
    return [...out, ...patch.filter((p) => !base.some((b) => b.name === p.name))];
  }
  if (isObject(base) && isObject(patch)) {
    const out: Record<string, unknown> = { ...base };
    for (const [key, value] of Object.entries(patch)) {
      out[key] = key in base ? merge(base[key], value) : value;
    }
    return out;
  }
  return patch;
}

function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function one(rendered: Rendered, kind: string): Manifest {
  const found = rendered.resources.filter((r) => r.kind === kind);
  expect(found).toHaveLength(1);
  return found[0];
}

/** Every variable src/config/app-config.ts reads, with the _FILE form of secrets. */
function knownVariables(): Set<string> {
  const source = readFileSync(join(ROOT, 'src/config/app-config.ts'), 'utf8');
  const names = new Set<string>();
  for (const [, method, name] of source.matchAll(/read\.(\w+)\(\s*'([A-Z][A-Z0-9_]*)'/g)) {
    names.add(name);
    if (method === 'secret' || method === 'optionalSecret') {
      names.add(`${name}_FILE`);
    }
  }
  return names;
}

function containerEnv(container: Manifest, config: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    expect(source.configMapRef?.name).toBe('tessera-config');
    Object.assign(env, config);
  }
  for (const variable of container.env ?? []) {
    expect(variable.valueFrom).toBeUndefined(); // no secretKeyRef: secrets are files, not environment
    env[variable.name] = String(variable.value);
  }
  return env;
}

const SECRET_VARIABLES = [
  'DATABASE_URL',
  'JWT_SECRET',
  'ENCRYPTION_KEY',
  'HASHING_KEY',
  'PKCS11_PIN',
];

describe.each([
  ['base', join(DEPLOY, 'base')],
  ['overlays/tls-in-pod', join(DEPLOY, 'overlays', 'tls-in-pod')],
])('deploy/kubernetes/%s', (_name, dir) => {
  const rendered = render(dir);
  const deployment = one(rendered, 'Deployment');
  const pod = deployment.spec.template.spec;
  const containers: Manifest[] = [...(pod.initContainers ?? []), ...pod.containers];
  const server = pod.containers.find((c: Manifest) => c.name === 'tessera');
  const podLabels = deployment.spec.template.metadata.labels;
  const matches = (selector: Record<string, string>) =>
    Object.entries(selector).every(([key, value]) => podLabels[key] === value);

  it('sets only variables that src/config/app-config.ts reads, and no secret as a value', () => {
    const known = knownVariables();
    expect(known.size).toBeGreaterThan(50);
    for (const container of containers) {
      const names = Object.keys(containerEnv(container, rendered.config));
      expect(names.filter((name) => !known.has(name))).toEqual([]);
      expect(names.filter((name) => SECRET_VARIABLES.includes(name))).toEqual([]);
    }
  });

  it('boots with the environment each container gets, secrets read from the mounted Secret files', () => {
    const files = mkdtempSync(join(tmpdir(), 'tessera-k8s-'));
    const certificate = opensslCertificate();
    for (const container of containers) {
      const env = containerEnv(container, rendered.config);
      for (const [name, path] of Object.entries(env).filter(([name]) => name.endsWith('_FILE'))) {
        // The file must come from a Secret volume item mounted read-only in this container.
        const mount = (container.volumeMounts as Manifest[]).find((m) =>
          path.startsWith(`${m.mountPath}/`),
        );
        expect({ name, mounted: mount !== undefined }).toEqual({ name, mounted: true });
        expect(mount!.readOnly).toBe(true);
        const volume = (pod.volumes as Manifest[]).find((v) => v.name === mount!.name)!;
        const item = posix.relative(mount!.mountPath, path);
        expect(volume.secret.items.map((i: Manifest) => i.path)).toContain(item);
        expect(volume.secret.defaultMode).toBe(0o440);
        const local = join(files, volume.name, item);
        mkdirSync(dirname(local), { recursive: true });
        const content =
          basename(path) === 'tls.crt'
            ? certificate.cert
            : basename(path) === 'tls.key'
              ? certificate.key
              : basename(path) === 'database_url'
                ? 'postgres://tessera:secret@postgres.example.internal:5432/tessera\n'
                : `${randomBytes(48).toString('base64')}\n`;
        writeFileSync(local, content);
        env[name] = local;
      }
      const config = loadConfig(env, '/app');
      expect(config.env).toBe('production');
      expect(config.database.url).toBe(
        'postgres://tessera:secret@postgres.example.internal:5432/tessera',
      );
      expect(config.database.migrateOnBoot).toBe(false);
      if (container !== server) {
        expect(config.metrics.port).toBeUndefined();
      }
      if (container === server) {
        expect(config.http.host).toBe('0.0.0.0');
        const port = (name: string) =>
          (server.ports as Manifest[]).find((p) => p.name === name)!.containerPort as number;
        expect(port('http')).toBe(config.http.port);
        // Metrics on their own listener, reachable from Prometheus and guarded by the token.
        expect(config.metrics).toMatchObject({ host: '0.0.0.0', port: port('metrics') });
        expect(config.metrics.token?.length).toBeGreaterThanOrEqual(32);
        // The pod's grace period covers the preStop pause and the drain Tessera allows itself.
        const pause = Number(server.lifecycle.preStop.exec.command[1]);
        expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(
          pause * 1000 + config.http.shutdownTimeoutMs,
        );
        expect(config.http.tls !== undefined).toBe(dir.endsWith('tls-in-pod'));
        // The probes speak the scheme the server listens with.
        const scheme = config.http.tls === undefined ? 'HTTP' : 'HTTPS';
        for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
          expect(server[probe].httpGet.scheme ?? 'HTTP').toBe(scheme);
        }
      }
    }
  });

  it('runs every container as the image user, unprivileged, on a read-only root, with resources', () => {
    expect(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')).toMatch(/^USER node$/m); // uid 1000
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      fsGroup: 1000,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.automountServiceAccountToken).toBe(false);
    for (const container of containers) {
      expect(container.securityContext).toEqual({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        capabilities: { drop: ['ALL'] },
      });
      expect(container.resources.requests).toEqual({
        cpu: expect.any(String),
        memory: expect.any(String),
      });
      expect(container.resources.limits.memory).toEqual(expect.any(String));
      expect(container.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
    }
  });

  it('probes the health routes the app serves, on the http port', () => {
    const routes = readFileSync(
      join(ROOT, 'test/e2e/__snapshots__/route-permissions.e2e-spec.ts.snap'),
      'utf8',
    );
    const paths = {
      startupProbe: '/health/live',
      livenessProbe: '/health/live',
      readinessProbe: '/health/ready',
    };
    for (const [probe, path] of Object.entries(paths)) {
      expect(server[probe].httpGet).toMatchObject({ path, port: 'http' });
      expect(routes).toContain(`GET ${path} -> public`);
    }
  });

  it('migrates in an init container before the server starts, and the server does not', () => {
    const migrate = (pod.initContainers as Manifest[]).find((c) => c.name === 'migrate')!;
    expect(migrate.command).toEqual(['node', 'dist/src/cli/migrate.js', 'run']);
    expect(existsSync(join(ROOT, 'src/cli/migrate.ts'))).toBe(true);
    expect(migrate.image).toBe(server.image);
    expect(containerEnv(server, rendered.config).DATABASE_MIGRATE_ON_BOOT).toBe('false');
    expect(server.command).toBeUndefined(); // the image's CMD, with its tracing preload
  });

  it('keeps a pod up through disruptions and scales it on CPU', () => {
    const pdb = one(rendered, 'PodDisruptionBudget');
    const hpa = one(rendered, 'HorizontalPodAutoscaler');
    expect(matches(pdb.spec.selector.matchLabels)).toBe(true);
    expect(hpa.spec.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: deployment.metadata.name,
    });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    expect(pdb.spec.maxUnavailable).toBeLessThan(hpa.spec.minReplicas);
    expect(deployment.spec.replicas).toBeGreaterThanOrEqual(hpa.spec.minReplicas);
    expect(deployment.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
    expect(hpa.spec.metrics).toContainEqual(
      expect.objectContaining({ resource: expect.objectContaining({ name: 'cpu' }) }),
    );
  });

  it('exposes http and metrics through the Service, and the ServiceMonitor scrapes metrics', () => {
    const service = one(rendered, 'Service');
    const monitor = one(rendered, 'ServiceMonitor');
    expect(matches(service.spec.selector)).toBe(true);
    const containerPorts = (server.ports as Manifest[]).map((p) => p.name);
    for (const port of service.spec.ports) {
      expect(containerPorts).toContain(port.targetPort);
    }
    expect(
      Object.entries(monitor.spec.selector.matchLabels).every(
        ([key, value]) => service.metadata.labels[key] === value,
      ),
    ).toBe(true);
    expect(monitor.spec.endpoints).toEqual([
      expect.objectContaining({ port: 'metrics', path: '/metrics' }),
    ]);
    expect((service.spec.ports as Manifest[]).map((p) => p.name)).toContain('metrics');
  });
});

describe('deploy/kubernetes', () => {
  it('parses every manifest, and the base lists each of its files', () => {
    for (const file of yamlFiles(DEPLOY)) {
      for (const manifest of parseFile(file)) {
        expect(manifest.apiVersion).toEqual(expect.any(String));
        expect(manifest.kind).toEqual(expect.any(String));
      }
    }
    const base = join(DEPLOY, 'base');
    const [kustomization] = parseFile(join(base, 'kustomization.yaml'));
    expect([...(kustomization.resources as string[])].sort()).toEqual(
      readdirSync(base)
        .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
        .sort(),
    );
    for (const manifest of render(base).resources) {
      expect(manifest.metadata.labels['app.kubernetes.io/name']).toBe('tessera');
    }
  });
});
