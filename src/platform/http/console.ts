import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, relative, sep } from 'node:path';

import { Logger } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';

import { DomainError } from 'src/platform/errors/domain-error';
import { problemErrorHandler } from 'src/platform/errors/problem.filter';
import type { PlainRoute } from 'src/platform/http/plain-route';

export const CONSOLE_PATH = '/console';

export const CONSOLE_ROUTES: readonly PlainRoute[] = [
  {
    method: 'GET',
    path: CONSOLE_PATH,
    access: 'public (CONSOLE_ENABLED): redirect to /console/',
  },
  {
    method: 'GET',
    path: `${CONSOLE_PATH}/*`,
    access: 'public (CONSOLE_ENABLED): admin console files; its data comes from /v1 with a token',
  },
];

class ConsoleFileNotFound extends DomainError {
  readonly code = 'NOT_FOUND';
  readonly status = 404;
  constructor(path: string) {
    super(`The console has no file ${path}.`);
  }
}

class ConsoleNotBuilt extends DomainError {
  readonly code = 'CONSOLE_NOT_BUILT';
  readonly status = 503;
  constructor() {
    super('The admin console is not built: run `npm run build:packages` (npm start does it).');
  }
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

// Vite names every file under assets/ by its content hash: a new build has new names, so they never change.
const IMMUTABLE = 'public, max-age=31536000, immutable';
// index.html names the current assets: always revalidated, so a deploy is picked up at once.
const REVALIDATE = 'no-cache';

interface ConsoleFile {
  body: Buffer;
  type: string;
  cacheControl: string;
}

/** The built console (packages/console/dist), read once at boot: a few hundred kilobytes. */
function readBuild(root: string): Map<string, ConsoleFile> {
  const files = new Map<string, ConsoleFile>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) {
        walk(path);
        continue;
      }
      const key = relative(root, path).split(sep).join('/');
      files.set(key, {
        body: readFileSync(path),
        type: TYPES[extname(name)] ?? 'application/octet-stream',
        cacheControl: key.startsWith('assets/') ? IMMUTABLE : REVALIDATE,
      });
    }
  };
  walk(root);
  return files;
}

/** packages/console/dist of the project that holds this file (dist/src/platform/http when built). */
export function defaultConsoleDir(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'packages', 'console')) && dirname(dir) !== dir) {
    dir = dirname(dir);
  }
  return join(dir, 'packages', 'console', 'dist');
}

/**
 * Serves the admin console under /console/. A path with a file extension is a file: served, or a 404
 * problem (a missing script must fail loudly, not load the page as JavaScript). Any other path is a screen
 * of the single-page app and gets index.html. Only /console/* falls back: /v1 and every other prefix keep
 * their own 404s.
 */
export function registerConsole(fastify: FastifyInstance, root: string): void {
  const logger = new Logger('Console');
  const files = existsSync(join(root, 'index.html')) ? readBuild(root) : undefined;
  if (files === undefined) {
    logger.warn(`no console build at ${root}: /console answers 503 until it is built`);
  }
  const errorHandler = problemErrorHandler(logger);

  fastify.get(CONSOLE_PATH, { errorHandler }, async (_request, reply) =>
    reply.redirect(`${CONSOLE_PATH}/`, 308),
  );
  fastify.get(`${CONSOLE_PATH}/*`, { errorHandler }, async (request, reply) => {
    if (files === undefined) {
      throw new ConsoleNotBuilt();
    }
    // Fastify has decoded the wildcard already and left the query string out of it.
    const path = (request.params as { '*': string })['*'];
    const isFile = extname(path) !== '';
    const file = files.get(isFile ? path : 'index.html');
    if (file === undefined) {
      throw new ConsoleFileNotFound(path);
    }
    return reply.type(file.type).header('cache-control', file.cacheControl).send(file.body);
  });
}
