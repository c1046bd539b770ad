/**
 * The SQL both the folder and the readers share: usage_deltas expanded to the scopes a rollup row belongs
 * to (everything, the product, the policy, the customer), each at its 15-minute bucket.
 */

/** The scope of everything: the nil uuid, never a product's, policy's or customer's id. */
export const ALL_SCOPE = '00000000-0000-0000-0000-000000000000';

export const BUCKET_SQL = (at: string) =>
  `date_bin('15 minutes', ${at}, TIMESTAMPTZ '2000-01-01 00:00:00+00')`;

/** `source` is a table or CTE with usage_deltas' columns. */
export const SCOPED_DELTAS = (source: string) => `
  SELECT s.scope_id, d.metric, ${BUCKET_SQL('d.at')} AS bucket, d.dim, d.count
  FROM ${source} d
  LEFT JOIN policies p ON p.id = d.policy_id
  CROSS JOIN LATERAL (VALUES ('${ALL_SCOPE}'::uuid), (p.product_id), (d.policy_id), (d.customer_id))
    AS s(scope_id)
  WHERE s.scope_id IS NOT NULL`;
