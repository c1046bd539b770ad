import {
  BadRequestException,
  HttpException,
  NotFoundException,
  ServiceUnavailableException,
} from '@nestjs/common';

import { DomainError } from 'src/platform/errors/domain-error';
import { fromClientDataError, toProblem } from 'src/platform/errors/problem';

class LicenseSuspended extends DomainError {
  readonly code = 'LICENSE_SUSPENDED';
  readonly status = 409;
}

function fastifyError(code: string, statusCode: number, message = 'fastify said no'): Error {
  return Object.assign(new Error(message), { code, statusCode });
}

describe('toProblem', () => {
  it('maps a domain error to its status, code and message, keeping its extensions', () => {
    expect(toProblem(new LicenseSuspended('License is suspended.', { licenseId: 'x' }))).toEqual({
      type: 'urn:tessera:problem:license-suspended',
      title: 'Conflict',
      status: 409,
      detail: 'License is suspended.',
      code: 'LICENSE_SUSPENDED',
      licenseId: 'x',
    });
  });

  it('keeps the list of validation messages', () => {
    const problem = toProblem(
      new BadRequestException({ message: ['name must be a string'], error: 'Bad Request' }),
    );
    expect(problem).toMatchObject({
      status: 400,
      code: 'VALIDATION_FAILED',
      errors: ['name must be a string'],
    });
  });

  it.each([
    ['FST_ERR_CTP_INVALID_JSON_BODY', 400, 'MALFORMED_JSON'],
    ['FST_ERR_CTP_EMPTY_JSON_BODY', 400, 'MALFORMED_JSON'],
    ['FST_ERR_CTP_BODY_TOO_LARGE', 413, 'PAYLOAD_TOO_LARGE'],
    ['FST_ERR_CTP_INVALID_MEDIA_TYPE', 415, 'UNSUPPORTED_MEDIA_TYPE'],
  ])('maps Fastify %s, bare or wrapped by Nest, to %i %s', (fstCode, status, code) => {
    const raw = fastifyError(fstCode, status);
    expect(toProblem(raw)).toMatchObject({ status, code });
    expect(toProblem(new HttpException('wrapped', status, { cause: raw }))).toMatchObject({
      status,
      code,
    });
  });

  it('gives Nest HTTP exceptions a code from their status', () => {
    expect(toProblem(new NotFoundException('Cannot GET /v1/x'))).toMatchObject({
      status: 404,
      code: 'NOT_FOUND',
      detail: 'Cannot GET /v1/x',
    });
  });

  it('reports an unhealthy readiness check as NOT_READY with the state of each check', () => {
    const error = new ServiceUnavailableException({
      status: 'error',
      details: { database: { status: 'down' } },
    });
    expect(toProblem(error)).toMatchObject({
      status: 503,
      code: 'NOT_READY',
      checks: { database: { status: 'down' } },
    });
  });

  it('treats anything else as internal (undefined), including 5xx HTTP exceptions', () => {
    expect(toProblem(new Error('boom'))).toBeUndefined();
    expect(toProblem('a string')).toBeUndefined();
    expect(toProblem(new HttpException('db exploded', 500))).toBeUndefined();
    expect(toProblem(fastifyError('FST_ERR_SOMETHING_INTERNAL', 500))).toBeUndefined();
  });
});

describe('fromClientDataError', () => {
  const pgError = (code: string) => Object.assign(new Error('pg said no'), { code });

  it.each([
    ['22021', 'INVALID_CHARACTERS'],
    ['22P05', 'INVALID_CHARACTERS'],
    ['22008', 'INVALID_VALUE'],
    ['22003', 'INVALID_VALUE'],
    ['22P02', 'INVALID_VALUE'],
  ])('maps SQLSTATE %s, bare or wrapped by TypeORM, to 400 %s', (sqlState, code) => {
    const expected = { status: 400, code, title: 'Bad Request' };
    expect(fromClientDataError(pgError(sqlState))).toMatchObject(expected);
    expect(
      fromClientDataError(
        Object.assign(new Error('query failed'), { driverError: pgError(sqlState) }),
      ),
    ).toMatchObject(expected);
  });

  it('leaves every other error internal, and never echoes the database message', () => {
    for (const sqlState of ['23505', '23503', '22007', '22001', '40001', '57014', '08006']) {
      expect(fromClientDataError(pgError(sqlState))).toBeUndefined();
    }
    expect(fromClientDataError(new Error('boom'))).toBeUndefined();
    expect(fromClientDataError(undefined)).toBeUndefined();
    expect(JSON.stringify(fromClientDataError(pgError('22021')))).not.toContain('pg said no');
  });
});
