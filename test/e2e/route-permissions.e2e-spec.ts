import { RequestMethod, VERSION_NEUTRAL } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA, VERSION_METADATA } from '@nestjs/common/constants';
import { MetadataScanner, ModulesContainer, Reflector } from '@nestjs/core';

import { plainRoutes } from 'src/app';
import { OPENAPI_ROUTES } from 'src/platform/http/openapi';
import { REQUIRED_ACCESS } from 'src/platform/auth/authenticated.decorator';
import { METRICS_PATH } from 'src/platform/metrics/metrics.server';
import type { RequiredAccess } from 'src/platform/auth/authenticated.decorator';
import { IS_PUBLIC } from 'src/platform/auth/public.decorator';
import { startTestApp } from 'test/e2e/test-app';
import type { TestApp } from 'test/e2e/test-app';

interface Route {
  method: string;
  path: string;
  access: string | undefined;
  /** Served on another listener than the API's (not reachable at `baseUrl`). */
  listener?: 'metrics';
}

/** Every route of the real application, with the access rule it declares (undefined: none). */
function discoverRoutes(t: TestApp): Route[] {
  const reflector = t.app.get(Reflector);
  const scanner = new MetadataScanner();
  const routes: Route[] = [];
  const controllers = [...t.app.get(ModulesContainer).values()].flatMap((module) => [
    ...module.controllers.values(),
  ]);
  for (const wrapper of controllers) {
    const controller = wrapper.metatype as (new (...args: never[]) => object) | undefined;
    if (wrapper.instance === null || wrapper.instance === undefined || controller === undefined) {
      continue;
    }
    const prototype = Object.getPrototypeOf(wrapper.instance) as object;
    const base = String(reflector.get<string>(PATH_METADATA, controller) ?? '');
    const classVersion = reflector.get<unknown>(VERSION_METADATA, controller);
    for (const name of scanner.getAllMethodNames(prototype)) {
      const handler = (prototype as Record<string, (...args: unknown[]) => unknown>)[name];
      const path = reflector.get<string | undefined>(PATH_METADATA, handler);
      if (path === undefined) {
        continue;
      }
      const method = RequestMethod[reflector.get<RequestMethod>(METHOD_METADATA, handler)];
      const version = reflector.get<unknown>(VERSION_METADATA, handler) ?? classVersion;
      const prefix = version === VERSION_NEUTRAL ? '' : '/v1';
      const full =
        `${prefix}/${[base, path].filter((p) => p !== '' && p !== '/').join('/')}`.replace(
          /\/+/g,
          '/',
        );
      const isPublic =
        reflector.getAllAndOverride<boolean>(IS_PUBLIC, [handler, controller]) === true;
      const access = reflector.getAllAndOverride<RequiredAccess | undefined>(REQUIRED_ACCESS, [
        handler,
        controller,
      ]);
      routes.push({
        method,
        path: full,
        access: isPublic
          ? 'public'
          : access === undefined
            ? undefined
            : `${access.permission}${access.mfa === 'recent' ? ' +mfa' : ''}${access.duringEnrollment === true ? ' (during enrolment)' : ''}`,
      });
    }
  }
  // Routes registered on Fastify directly, outside Nest's router: each is public by construction.
  routes.push(...plainRoutes(t.config));
  // The Prometheus exposition lives on its own listener (METRICS_PORT), never on the API's port.
  routes.push({
    method: 'GET',
    path: METRICS_PATH,
    access:
      'metrics listener only (METRICS_HOST:METRICS_PORT): bearer METRICS_TOKEN, required off loopback',
    listener: 'metrics',
  });
  return routes.sort((a, b) => `${a.path} ${a.method}`.localeCompare(`${b.path} ${b.method}`));
}

describe('route access declarations', () => {
  let t: TestApp;
  let routes: Route[];

  beforeAll(async () => {
    t = await startTestApp();
    routes = discoverRoutes(t);
  });
  afterAll(async () => {
    await t.close();
  });

  it('finds the routes of the application', () => {
    expect(routes.length).toBeGreaterThan(20);
  });

  it('every route declares a permission or is explicitly public', () => {
    const undeclared = routes
      .filter((r) => r.access === undefined)
      .map((r) => `${r.method} ${r.path}`);
    expect(undeclared).toEqual([]);
  });

  it('matches the reviewed access table (METHOD path -> access)', () => {
    expect(routes.map((r) => `${r.method} ${r.path} -> ${r.access}`).join('\n')).toMatchSnapshot();
  });

  it('serves every route registered outside Nest that it lists, and lists the docs when enabled', () => {
    const fastify = t.app.getHttpAdapter().getInstance();
    const missing = plainRoutes(t.config).filter(
      (r) => !fastify.hasRoute({ method: r.method, url: r.path }),
    );
    expect(missing).toEqual([]);
    expect(plainRoutes(t.config)).toEqual(expect.arrayContaining([...OPENAPI_ROUTES]));
  });

  it('serves neither the OpenAPI document nor its page with OPENAPI_DOCS_ENABLED=false', async () => {
    const closed = await startTestApp({ env: { OPENAPI_DOCS_ENABLED: 'false' } });
    try {
      const fastify = closed.app.getHttpAdapter().getInstance();
      for (const route of OPENAPI_ROUTES) {
        expect(fastify.hasRoute({ method: route.method, url: route.path })).toBe(false);
      }
      expect(plainRoutes(closed.config).map((r) => r.path)).toEqual(
        plainRoutes(t.config)
          .filter((r) => !OPENAPI_ROUTES.includes(r))
          .map((r) => r.path),
      );
      for (const path of ['/docs', '/docs/swagger-ui-init.js', '/openapi.json', '/openapi.yaml']) {
        const response = await fetch(`${closed.baseUrl}${path}`);
        expect(`${path} ${response.status}`).toBe(`${path} 404`);
        expect(response.headers.get('content-type')).toContain('application/problem+json');
      }
    } finally {
      await closed.close();
    }
  });

  it('does not serve the metrics on the API listener', async () => {
    const response = await fetch(`${t.baseUrl}${METRICS_PATH}`);
    expect(response.status).toBe(404);
  });

  it('refuses every non-public route without credentials, with a 401 problem', async () => {
    for (const route of routes.filter(
      (r) => !r.access?.startsWith('public') && r.listener === undefined,
    )) {
      const path = route.path.replace(/:[A-Za-z]+/g, '00000000-0000-4000-8000-000000000000');
      const response = await fetch(`${t.baseUrl}${path}`, {
        method: route.method,
        headers:
          route.method === 'GET' || route.method === 'DELETE'
            ? {}
            : { 'content-type': 'application/json' },
        body: route.method === 'GET' || route.method === 'DELETE' ? undefined : '{}',
      });
      expect(`${route.method} ${route.path} ${response.status}`).toBe(
        `${route.method} ${route.path} 401`,
      );
      expect(response.headers.get('content-type')).toContain('application/problem+json');
    }
  });
});
