/**
 * A route registered on Fastify directly, outside Nest's router and so outside its guards: each is public
 * by construction. The lists of them are exported so the route-permission snapshot reads what is served.
 */
export interface PlainRoute {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  /** Who may call it, as the route-permission snapshot shows it. */
  readonly access: string;
}
