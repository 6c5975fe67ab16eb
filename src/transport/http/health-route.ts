import type { StoreHealth } from '../../store/swarm-store.js';
import type { HttpRoute } from './http-transport.js';
import { sendJson } from './responses.js';

/**
 * `GET /healthz` (liveness: 200 while the process serves HTTP) and
 * `GET /readyz` (readiness: 200 while the store answers and the tracker is
 * not shutting down; 503 with a short JSON reason otherwise). Both are a
 * field read: cheap enough to be polled every second by a load balancer or
 * an orchestrator.
 */
export function healthRoute(state: { store: () => StoreHealth | undefined; closing: () => boolean }): HttpRoute {
  return (req, res, path) => {
    if (path !== '/healthz' && path !== '/readyz') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(req, res, 405, { status: 'error', reason: 'GET or HEAD' }, { Allow: 'GET, HEAD' });
      return true;
    }
    if (path === '/healthz') {
      sendJson(req, res, 200, { status: 'ok' });
      return true;
    }
    let reason: string | undefined;
    if (state.closing()) reason = 'shutting down';
    else if (state.store()?.up === false) reason = 'store unavailable';
    if (reason) sendJson(req, res, 503, { status: 'unavailable', reason }, { 'Retry-After': '1' });
    else sendJson(req, res, 200, { status: 'ready' });
    return true;
  };
}
