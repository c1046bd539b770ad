import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';

/** The pg pool behind TypeORM's DataSource: for prepared statements, cursors and pool gauges. */
export function poolOf(dataSource: DataSource): Pool {
  return (dataSource.driver as unknown as { master: Pool }).master;
}
