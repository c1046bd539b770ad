import type { FastifyInstance } from 'fastify';

/**
 * Fastify closes idle keep-alive sockets when it starts closing, but a socket busy with an in-flight request
 * would then stay open until its keep-alive timeout and hold shutdown up. Responses sent while closing
 * therefore carry `Connection: close`, so each socket ends with its last response.
 */
export function closeConnectionsWhileClosing(fastify: FastifyInstance): void {
  let closing = false;
  fastify.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  fastify.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) {
      void reply.header('connection', 'close');
    }
    done(null, payload);
  });
}
