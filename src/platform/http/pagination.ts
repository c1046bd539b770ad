import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';

import { DomainError } from 'src/platform/errors/domain-error';

export class InvalidCursor extends DomainError {
  readonly code = 'INVALID_CURSOR';
  readonly status = 400;
  constructor() {
    super('The cursor is not one this API returned: start again without it.');
  }
}

/** `?limit=` (1..100, default 20) `&cursor=` (opaque, from the previous page's `nextCursor`). */
export class PageQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 20 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit: number = 20;

  @ApiPropertyOptional({ description: 'nextCursor of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  cursor?: string;
}

export function encodeCursor(position: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Decodes a cursor and checks it carries the expected string fields (an `id` must be a UUID). */
export function decodeCursor<K extends string>(
  cursor: string,
  keys: readonly K[],
): Record<K, string> {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
    const valid = (key: string): boolean => {
      const value = parsed[key];
      return typeof value === 'string' && (key !== 'id' || UUID.test(value));
    };
    if (keys.every(valid)) {
      return parsed as Record<K, string>;
    }
  } catch {
    // fall through
  }
  throw new InvalidCursor();
}

/** The id a page continues after (lists ordered by id), or undefined for the first page. */
export function afterIdOf(cursor: string | undefined): string | undefined {
  return cursor === undefined ? undefined : decodeCursor(cursor, ['id']).id;
}

/** Builds `{ data, nextCursor }` from one row more than the page size (the extra row means "more"). */
export function page<T, D>(
  rows: T[],
  limit: number,
  toDto: (row: T) => D,
  position: (row: T) => Record<string, string>,
) {
  const more = rows.length > limit;
  const data = rows.slice(0, limit);
  return {
    data: data.map(toDto),
    nextCursor: more ? encodeCursor(position(data[data.length - 1])) : null,
  };
}
