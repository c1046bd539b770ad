import { snake } from 'src/platform/database/naming-strategy';

describe('snake', () => {
  it.each([
    ['createdAt', 'created_at'],
    ['aggregateId', 'aggregate_id'],
    ['lastValidatedAt', 'last_validated_at'],
    ['totpSecretIV', 'totp_secret_iv'],
    ['id', 'id'],
    ['maxMachines2', 'max_machines2'],
  ])('%s -> %s', (input, output) => {
    expect(snake(input)).toBe(output);
  });
});
